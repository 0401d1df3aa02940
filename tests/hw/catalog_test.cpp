// Tests of the hardware catalog: topologies/gpus, topologies/systems and topologies/prices.yaml
// load, and the figures derived from them match the vendors' datasheets. Source ids (S1..S97)
// are those of the project's hardware-specs research notes, section 11; the catalog files carry
// the URLs.

#include "sim/config/catalog.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"

namespace moesim::hw {
namespace {

namespace fs = std::filesystem;

config::Catalog source_catalog() { return config::Catalog(fs::path{MOESIM_SOURCE_DIR}); }

/// Dense peak of `type` on the whole domain of `system`, in PFLOP/s; fails the test if absent.
double domain_pflops(const SystemSpec& system, DType type) {
  const std::optional<FlopRate> r = system.domain_peak_dense(type);
  REQUIRE(r.has_value());
  return in_petaflop_per_second(*r);
}

/// A system definition for parse_system, with the GPU reference, the name of the NVLink-domain
/// key and the domain's GPU count as parameters (to write typos and inconsistencies).
std::string system_yaml(const std::string& gpu, const std::string& domain_key = "nvlink_domain",
                        const std::string& domain_gpus = "72") {
  return "name: test-rack\n"
         "description: \"a test rack\"\n"
         "gpu: " +
         gpu +
         "\n"
         "node:\n"
         "  kind: compute-tray\n"
         "  gpus: 4\n"
         "  cpus: {count: 2, model: \"Grace\"}\n" +
         domain_key +
         ":\n"
         "  nodes: 18\n"
         "  gpus: " +
         domain_gpus +
         "\n"
         "  switch: {name: \"NVLink Switch trays\", kind: switch-tray, generation: 4, chips: 18,\n"
         "           nvlink_sharp: true}\n"
         "scale_out: {nics_per_gpu: 1, nic_model: ConnectX-7, nic_bandwidth: \"400 Gb/s\",\n"
         "            fabric: \"Quantum-2 NDR\"}\n";
}

SystemSpec parse_inline_system(const std::string& yaml) {
  return parse_system(source_catalog(), config::ConfigNode::parse(yaml, "<test>"));
}

/// Writes `text` to `path`, creating its folder.
void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
  REQUIRE(out.good());
}

TEST_CASE("the GPU catalog holds the six GPUs and every one of them loads") {
  const config::Catalog catalog = source_catalog();
  const std::vector<std::string> expected = {"b200", "b300", "gb200", "gb300", "h100", "h200"};
  CHECK(catalog.names(kGpuSection) == expected);
  for (const std::string& name : catalog.names(kGpuSection)) {
    CAPTURE(name);
    const GpuSpec gpu = load_gpu(catalog, name);
    CHECK(gpu.name == name);
    CHECK(gpu.location.file.find(name + ".yaml") != std::string::npos);
    CHECK(gpu.peak_dense.has(DType::kBF16));
    CHECK(gpu.nvlink.links == 18);  // 18 links on Hopper and Blackwell (S19, S13)
  }
}

TEST_CASE("the system catalog holds the six systems and every one of them loads") {
  const config::Catalog catalog = source_catalog();
  const std::vector<std::string> expected = {"gb200-nvl72", "gb300-nvl72", "hgx-b200",
                                             "hgx-b300",    "hgx-h100",    "hgx-h200"};
  CHECK(catalog.names(kSystemSection) == expected);
  for (const std::string& name : catalog.names(kSystemSection)) {
    CAPTURE(name);
    const SystemSpec system = load_system(catalog, name);
    CHECK(system.name == name);
    CHECK(system.domain_size == system.gpus_per_node * system.nodes_per_domain);
    CHECK(system.scale_out.nics_per_gpu == 1);  // one compute NIC per GPU on all six (S22, S28)
  }
}

TEST_CASE("GPUs list only the data types they really run") {
  const config::Catalog catalog = source_catalog();
  // Hopper has no FP4/FP6 tensor path (S1).
  for (const char* name : {"h100", "h200"}) {
    const GpuSpec gpu = load_gpu(catalog, name);
    CHECK_FALSE(gpu.peak_dense.has(DType::kFP4));
    CHECK_FALSE(gpu.peak_dense.has(DType::kFP6));
    CHECK(gpu.peak_dense.has(DType::kINT8));
    CHECK(gpu.arch == Arch::kHopper);
  }
  // Blackwell Ultra cut INT8 to a vestigial ~0.15 POPS: treated as unavailable (S13).
  for (const char* name : {"b300", "gb300"}) {
    const GpuSpec gpu = load_gpu(catalog, name);
    CHECK_FALSE(gpu.peak_dense.has(DType::kINT8));
    CHECK(gpu.peak_dense.has(DType::kFP4));
    CHECK(gpu.arch == Arch::kBlackwellUltra);
  }
  // Blackwell runs all seven tensor types.
  const GpuSpec b200 = load_gpu(catalog, "b200");
  for (DType t : {DType::kFP4, DType::kFP6, DType::kFP8, DType::kINT8, DType::kBF16, DType::kFP16,
                  DType::kTF32}) {
    CHECK(b200.peak_dense.has(t));
  }
}

TEST_CASE("per-GPU figures are the dense datasheet values") {
  const config::Catalog catalog = source_catalog();
  const GpuSpec h100 = load_gpu(catalog, "h100");
  // 132 SMs x 4,096 FLOP/clk x 1.83 GHz = 989.5; NVIDIA table: 1,979 sparse / 2 = 989.4 (S1, S3).
  CHECK(in_teraflop_per_second(*h100.peak_dense.get(DType::kBF16)) == doctest::Approx(989.4));
  // NVLink 4: 18 links x 25 GB/s per direction = 450 GB/s; NVIDIA's 900 GB/s is bidirectional.
  CHECK(in_gigabytes_per_second(h100.nvlink.per_link_per_direction()) == doctest::Approx(25.0));
  CHECK(in_gigabytes_per_second(h100.nvlink.bidirectional()) == doctest::Approx(900.0));
  // ConnectX-7: 400 Gb/s = 50 GB/s per direction.
  CHECK(in_gigabytes_per_second(h100.nic.bandwidth_per_direction) == doctest::Approx(50.0));
  // "80 GB" is 80 GiB (nvidia-smi: 81,559 MiB = 79.6 GiB).
  CHECK(h100.hbm.capacity == gibibytes(80));
  CHECK(in_terabytes_per_second(h100.hbm.bandwidth) == doctest::Approx(3.35));
  CHECK(h100.l2_cache == mebibytes(50));
  CHECK(in_watts(h100.tdp) == doctest::Approx(700.0));

  const GpuSpec b300 = load_gpu(catalog, "b300");
  // Blackwell Ultra FP4 dense = 6 x BF16 dense: 6 x 2.25 = 13.5 PFLOP/s (HGX B300 108 PF / 8).
  CHECK(in_petaflop_per_second(*b300.peak_dense.get(DType::kFP4)) ==
        doctest::Approx(6.0 * in_petaflop_per_second(*b300.peak_dense.get(DType::kBF16))));
  // NVLink 5: 900 GB/s per direction / 18 links = 50 GB/s per link.
  CHECK(in_gigabytes_per_second(b300.nvlink.per_link_per_direction()) == doctest::Approx(50.0));
  CHECK(b300.sms == 148);  // shipping count (S27), not the 160-SM full die
}

TEST_CASE("GB200 NVL72 aggregates match NVIDIA's rack datasheet") {
  const SystemSpec s = load_system(source_catalog(), "gb200-nvl72");
  REQUIRE(s.domain_size == 72);
  // 72 GPUs x 1.8 TB/s = 129.6 TB/s bidirectional; NVIDIA rounds it to "130 TB/s" (S10).
  CHECK(in_terabytes_per_second(s.domain_nvlink_bandwidth_bidirectional()) ==
        doctest::Approx(129.6));
  CHECK(in_terabytes_per_second(s.domain_nvlink_bandwidth_bidirectional()) ==
        doctest::Approx(130.0).epsilon(0.005));
  // One direction: 72 x 900 GB/s = 64.8 TB/s.
  CHECK(in_terabytes_per_second(s.domain_nvlink_bandwidth_per_direction()) ==
        doctest::Approx(64.8));
  // Dense: FP4 72 x 10 = 720 PF, FP8 72 x 5 = 360 PF, BF16 72 x 2.5 = 180 PF (S9, S10, S18).
  CHECK(domain_pflops(s, DType::kFP4) == doctest::Approx(720.0));
  CHECK(domain_pflops(s, DType::kFP8) == doctest::Approx(360.0));
  CHECK(domain_pflops(s, DType::kBF16) == doctest::Approx(180.0));
  // HBM: 72 x 8 TB/s = 576 TB/s (S9); 72 x 186 GiB = 13,392 GiB, NVIDIA's "13.4 TB" (S9).
  CHECK(in_terabytes_per_second(s.domain_hbm_bandwidth()) == doctest::Approx(576.0));
  CHECK(s.domain_hbm_capacity() == gibibytes(72 * 186));
  // 18 compute trays of 4 GPUs, 18 NVLink Switch chips (S10, S40).
  CHECK(s.gpus_per_node == 4);
  CHECK(s.nodes_per_domain == 18);
  CHECK(s.nvlink_switch.chips == 18);
  CHECK(s.nvlink_switch.kind == SwitchKind::kSwitchTray);
  CHECK(s.node_kind == NodeKind::kComputeTray);
}

TEST_CASE("GB300 NVL72 dense FP4 is 1,080 PFLOP/s") {
  const SystemSpec s = load_system(source_catalog(), "gb300-nvl72");
  // 72 x 15 PF = 1,080 PF dense (NVIDIA's later figure; GTC 2025 said 1,100) (S14, S28).
  CHECK(domain_pflops(s, DType::kFP4) == doctest::Approx(1080.0));
  // FP8 and BF16 unchanged from GB200: 360 and 180 PF (S14).
  CHECK(domain_pflops(s, DType::kFP8) == doctest::Approx(360.0));
  CHECK(domain_pflops(s, DType::kBF16) == doctest::Approx(180.0));
  CHECK_FALSE(s.domain_peak_dense(DType::kINT8).has_value());
  // 72 x 288 GiB = 20,736 GiB, NVIDIA's "20.7 TB" (S14).
  CHECK(s.domain_hbm_capacity() == gibibytes(72 * 288));
  // ConnectX-8: 800 Gb/s = 100 GB/s per GPU per direction (S28).
  CHECK(in_gigabytes_per_second(s.scale_out_bandwidth_per_gpu()) == doctest::Approx(100.0));
}

TEST_CASE("HGX H200 aggregates match NVIDIA's 8-GPU datasheet") {
  const SystemSpec s = load_system(source_catalog(), "hgx-h200");
  // FP8 dense: 8 x 1,979 TF = 15,832 TF = 15.8 PF (NVIDIA: "32 PF" sparse / 2 ~ 16) (S4, S21).
  CHECK(domain_pflops(s, DType::kFP8) == doctest::Approx(15.832));
  CHECK_FALSE(s.domain_peak_dense(DType::kFP4).has_value());
  // HBM: 8 x 141 GiB = 1,128 GiB, NVIDIA's "1,128 GB" (S21).
  CHECK(s.domain_hbm_capacity() == gibibytes(1128));
  // NVLink: 8 x 900 GB/s = 7.2 TB/s aggregate bidirectional (S38).
  CHECK(in_terabytes_per_second(s.domain_nvlink_bandwidth_bidirectional()) == doctest::Approx(7.2));
  CHECK(s.nvlink_switch.chips == 4);  // NVSwitch gen 3, 4 chips (S36)
  CHECK(s.nvlink_switch.nvlink_sharp);
}

TEST_CASE("HGX B200 and HGX B300 aggregates match their 8-GPU datasheets") {
  const config::Catalog catalog = source_catalog();
  const SystemSpec b200 = load_system(catalog, "hgx-b200");
  // DGX B200: FP4 72 PF, FP8 36 PF, BF16 18 PF dense (S22); 14.4 TB/s NVLink; 8 x 180 GiB =
  // 1,440 "GB"; HBM 8 x 7.7 = 61.6 TB/s (HGX page: 62 TB/s) (S7).
  CHECK(domain_pflops(b200, DType::kFP4) == doctest::Approx(72.0));
  CHECK(domain_pflops(b200, DType::kFP8) == doctest::Approx(36.0));
  CHECK(domain_pflops(b200, DType::kBF16) == doctest::Approx(18.0));
  CHECK(in_terabytes_per_second(b200.domain_nvlink_bandwidth_bidirectional()) ==
        doctest::Approx(14.4));
  CHECK(b200.domain_hbm_capacity() == gibibytes(1440));
  CHECK(in_terabytes_per_second(b200.domain_hbm_bandwidth()) == doctest::Approx(61.6));
  CHECK(b200.nvlink_switch.chips == 2);

  const SystemSpec b300 = load_system(catalog, "hgx-b300");
  // HGX B300: FP4 108 PF (later figure; GTC 2025: 105), FP8 36, BF16 18, TF32 9 PF dense (S12).
  CHECK(domain_pflops(b300, DType::kFP4) == doctest::Approx(108.0));
  CHECK(domain_pflops(b300, DType::kFP8) == doctest::Approx(36.0));
  CHECK(domain_pflops(b300, DType::kBF16) == doctest::Approx(18.0));
  CHECK(domain_pflops(b300, DType::kTF32) == doctest::Approx(9.0));
  // 8 ConnectX-8 x 800 Gb/s = 6.4 Tb/s = 0.8 TB/s per direction per node, NVIDIA's "1.6 TB/s"
  // counting both directions (S26); 100 GB/s per GPU.
  CHECK(in_terabytes_per_second(b300.scale_out_bandwidth_per_gpu() * 8.0) == doctest::Approx(0.8));
}

TEST_CASE("a GPU preset with overrides replaces only the overridden values") {
  const SystemSpec s = parse_inline_system(
      system_yaml(R"({preset: gb200, overrides: {tdp: "1000 W", hbm: {capacity: "192 GiB"}}})"));
  CHECK(in_watts(s.gpu.tdp) == doctest::Approx(1000.0));
  CHECK(s.gpu.hbm.capacity == gibibytes(192));
  // Untouched values keep the preset's: 8 TB/s HBM, 10 PF FP4, name "gb200".
  CHECK(in_terabytes_per_second(s.gpu.hbm.bandwidth) == doctest::Approx(8.0));
  CHECK(in_petaflop_per_second(*s.gpu.peak_dense.get(DType::kFP4)) == doctest::Approx(10.0));
  CHECK(s.gpu.name == "gb200");
  // Derived figures use the overridden GPU: 72 x 192 GiB.
  CHECK(s.domain_hbm_capacity() == gibibytes(72 * 192));
}

TEST_CASE("overriding a key the GPU preset lacks is an error with a suggestion") {
  try {
    parse_inline_system(system_yaml(R"({preset: gb200, overrides: {tdpp: "1000 W"}})"));
    FAIL("an override of an unknown key was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "tdp");
    CHECK(e.where().file == "<test>");
  }
}

TEST_CASE("a misspelt system key is an error that suggests the right key") {
  try {
    parse_inline_system(system_yaml("h100", "nvlink_domian"));
    FAIL("a misspelt key was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "nvlink_domain");
    CHECK(e.where().file == "<test>");
    CHECK(e.where().line > 0);
  }
}

TEST_CASE("a misspelt data type in an inline GPU is an error that suggests the right type") {
  const std::string gpu =
      R"({name: x, description: x, arch: hopper, peak_dense: {bf_16: "1 PFLOP/s"}, sms: 1,
          hbm: {type: HBM3, capacity: "1 GiB", bandwidth: "1 TB/s"}, l2_cache: "1 MiB",
          tdp: "1 W", nvlink: {generation: 4, links: 1, bandwidth_per_direction: "1 GB/s"},
          nic: {model: x, bandwidth_per_direction: "1 Gb/s"}})";
  try {
    parse_inline_system(system_yaml(gpu));
    FAIL("an unknown data type was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "bf16");
  }
}

TEST_CASE("an unknown GPU name is an error that suggests the nearest catalog name") {
  try {
    parse_inline_system(system_yaml("h2000"));
    FAIL("an unknown GPU name was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "h200");
  }
}

TEST_CASE("a domain size other than GPUs per node times nodes is rejected") {
  // 4 GPUs per tray x 18 trays = 72, not 64.
  try {
    parse_inline_system(system_yaml("gb200", "nvlink_domain", "64"));
    FAIL("an inconsistent domain size was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "nvlink_domain.gpus");
  }
}

TEST_CASE("more than 16 NICs per GPU is rejected at nics_per_gpu") {
  // Found by the fuzz test: 1,000,000 NICs per GPU made a two-node cluster of 16 million NIC
  // vertices (std::bad_alloc).
  std::string yaml = system_yaml("gb200");
  yaml.replace(yaml.find("nics_per_gpu: 1"), 15, "nics_per_gpu: 17");
  try {
    parse_inline_system(yaml);
    FAIL("17 NICs per GPU were accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "scale_out.nics_per_gpu");
    CHECK(e.expected() == "a whole number from 1 to 16");
  }
}

TEST_CASE("a system loads from a file path as well as by name") {
  const config::Catalog catalog = source_catalog();
  const fs::path path = fs::path{MOESIM_SOURCE_DIR} / "topologies/systems/gb200-nvl72.yaml";
  const SystemSpec by_path = load_system(catalog, path.string());
  const SystemSpec by_name = load_system(catalog, "gb200-nvl72");
  CHECK(by_path.name == by_name.name);
  CHECK(by_path.domain_size == by_name.domain_size);
  CHECK(domain_pflops(by_path, DType::kFP4) == doctest::Approx(720.0));
}

TEST_CASE("a user system names its GPU file by a path relative to itself") {
  // Generated fixtures: a GPU file that presets h100 with a 500 W cap, and a system that names
  // that file relative to its own folder.
  const fs::path dir = fs::path{MOESIM_BINARY_DIR} / "tests/hw_catalog_fixtures";
  write_file(dir / "gpus/h100-capped.yaml",
             "preset: h100\noverrides: {name: h100-capped, tdp: \"500 W\"}\n");
  std::string system = system_yaml("gpus/h100-capped.yaml");
  write_file(dir / "test-rack.yaml", system);
  const SystemSpec s = load_system(source_catalog(), (dir / "test-rack.yaml").string());
  CHECK(s.gpu.name == "h100-capped");
  CHECK(in_watts(s.gpu.tdp) == doctest::Approx(500.0));
  // The rest is H100's: 72 x 989.4 TF BF16.
  CHECK(domain_pflops(s, DType::kBF16) == doctest::Approx(72 * 0.9894));
  CHECK(s.location.file.find("test-rack.yaml") != std::string::npos);
}

TEST_CASE("the price sheet has an entry for every system of the catalog") {
  const config::Catalog catalog = source_catalog();
  const PriceSheet sheet = load_price_sheet(catalog);
  CHECK(sheet.name() == "prices");
  CHECK_FALSE(sheet.default_column().empty());
  for (const std::string& name : catalog.names(kSystemSection)) {
    CAPTURE(name);
    const PriceEntry* e = sheet.find(name);
    REQUIRE(e != nullptr);
    CHECK(e->price_per_gpu_hour.base() > 0.0);
    CHECK(e->power_per_gpu_idle <= e->power_per_gpu_load);
    // All-in power exceeds the GPU's own TDP: it includes CPUs, switches, NICs and fans.
    CHECK(e->power_per_gpu_load > load_system(catalog, name).gpu.tdp);
  }
}

TEST_CASE("price sheet entries carry the CoreWeave February 2026 list prices") {
  const PriceSheet sheet = load_price_sheet(source_catalog());
  // CoreWeave list (S82): $49.24 / 8, $50.44 / 8, $68.80 / 8 per node, $42.00 / 4 per GB200 tray.
  CHECK(in_usd_per_hour(sheet.at("hgx-h100").price_per_gpu_hour) == doctest::Approx(6.16));
  CHECK(in_usd_per_hour(sheet.at("hgx-h200").price_per_gpu_hour) == doctest::Approx(6.31));
  CHECK(in_usd_per_hour(sheet.at("hgx-b200").price_per_gpu_hour) == doctest::Approx(8.60));
  CHECK(in_usd_per_hour(sheet.at("gb200-nvl72").price_per_gpu_hour) == doctest::Approx(10.50));
  CHECK(sheet.at("hgx-h100").price_date == "2026-02");
  // Load power: DGX H100 10.2 kW / 8 = 1,275 W (S44); GB200 NVL72 ~120 kW / 72 = 1,666.7 W (S9).
  CHECK(in_watts(sheet.at("hgx-h100").power_per_gpu_load) == doctest::Approx(1275.0));
  CHECK(in_watts(sheet.at("gb200-nvl72").power_per_gpu_load) ==
        doctest::Approx(120000.0 / 72.0).epsilon(1e-4));
}

TEST_CASE("asking the price sheet for an unknown system suggests the nearest one") {
  const PriceSheet sheet = load_price_sheet(source_catalog());
  CHECK(sheet.find("hgx-h10") == nullptr);
  try {
    (void)sheet.at("hgx-h10");
    FAIL("an unknown system was found");
  } catch (const ConfigError& e) {
    CHECK(e.suggestion() == "hgx-h100");
    CHECK(e.key_path() == "systems.hgx-h10");
  }
}

TEST_CASE("an idle power above the load power is rejected") {
  const std::string yaml =
      "name: p\ndescription: d\ndefault_column: c\nsystems:\n"
      "  hgx-h100: {price_per_gpu_hour: \"$2/h\", price_source: s, price_date: \"2026-01\",\n"
      "             power_per_gpu_load: \"1000 W\", power_per_gpu_idle: \"1200 W\",\n"
      "             power_source: s}\n";
  try {
    (void)parse_price_sheet(config::ConfigNode::parse(yaml, "<test>"));
    FAIL("idle above load was accepted");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "systems.hgx-h100.power_per_gpu_idle");
  }
}

}  // namespace
}  // namespace moesim::hw

namespace moesim::hw {
namespace {

TEST_CASE("a system file named other than its system is an error at its name key") {
  // A run prices a system by the file stem it was asked for (Scenario::system_name), `show` and
  // `compare` by its `name:`; were they allowed to differ, one system would be priced with
  // another's price-sheet entry.
  const fs::path dir = fs::temp_directory_path() / "moesim_system_stem";
  fs::create_directories(dir);
  const fs::path copy = dir / "my-h200.yaml";
  fs::copy_file(fs::path{MOESIM_SOURCE_DIR} / "topologies/systems/hgx-h200.yaml", copy,
                fs::copy_options::overwrite_existing);
  try {
    load_system(source_catalog(), copy.string());
    FAIL("a system named hgx-h200 in my-h200.yaml loaded");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "name");
    CHECK(e.where().file == copy.string());
    CHECK(e.where().line > 0);
    CHECK(e.expected().find("'my-h200'") != std::string::npos);
    CHECK(e.found() == "hgx-h200");
  }
  fs::remove_all(dir);
  // Catalog entries are named after their files.
  for (const auto& name : source_catalog().names(kSystemSection)) {
    CHECK(load_system(source_catalog(), name).name == name);
  }
}

}  // namespace
}  // namespace moesim::hw
