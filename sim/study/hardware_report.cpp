#include "sim/study/hardware_report.hpp"

#include <functional>
#include <optional>
#include <string>

namespace moesim::study {
namespace {

std::string num(double v) { return format_number(v, 4); }

std::string rate_or_dash(std::optional<FlopRate> r, double (*in_unit)(FlopRate)) {
  return r ? num(in_unit(*r)) : "-";
}

/// A comparison row: a label and one optional number per system.
using Metric = std::function<std::optional<double>(const hw::SystemSpec&, const hw::PriceEntry&)>;

std::optional<double> peak_pflops(const hw::SystemSpec& s, DType t, bool domain) {
  const auto r = domain ? s.domain_peak_dense(t) : s.gpu.peak_dense.get(t);
  if (!r) return std::nullopt;
  return in_petaflop_per_second(*r);
}

}  // namespace

Table gpu_report(const hw::GpuSpec& gpu) {
  Table t({"field", "value"});
  t.add_row({"name", gpu.name});
  t.add_row({"description", gpu.description});
  t.add_row({"architecture", std::string(to_string(gpu.arch))});
  t.add_row({"SMs", std::to_string(gpu.sms)});
  for (DType type : kAllDTypes) {
    if (const auto r = gpu.peak_dense.get(type)) {
      t.add_row({"dense peak " + std::string(to_string(type)) + " (TFLOP/s)",
                 num(in_teraflop_per_second(*r))});
    }
  }
  t.add_row({"HBM type", gpu.hbm.type});
  t.add_row({"HBM capacity (GB)", num(in_gigabytes(gpu.hbm.capacity))});
  t.add_row({"HBM capacity (GiB)", num(in_gibibytes(gpu.hbm.capacity))});
  t.add_row({"HBM bandwidth (TB/s)", num(in_terabytes_per_second(gpu.hbm.bandwidth))});
  t.add_row({"L2 cache (MB)", num(in_bytes(gpu.l2_cache) / scale::kMega)});
  t.add_row({"TDP (W)", num(in_watts(gpu.tdp))});
  t.add_row({"NVLink generation", std::to_string(gpu.nvlink.generation)});
  t.add_row({"NVLink links", std::to_string(gpu.nvlink.links)});
  t.add_row({"NVLink per direction (GB/s)",
             num(in_gigabytes_per_second(gpu.nvlink.bandwidth_per_direction))});
  t.add_row(
      {"NVLink bidirectional (GB/s)", num(in_gigabytes_per_second(gpu.nvlink.bidirectional()))});
  t.add_row({"NIC", gpu.nic.model});
  t.add_row(
      {"NIC per direction (GB/s)", num(in_gigabytes_per_second(gpu.nic.bandwidth_per_direction))});
  t.add_row({"defined at", gpu.location.file + ":" + std::to_string(gpu.location.line)});
  return t;
}

Table system_report(const hw::SystemSpec& s, const hw::PriceEntry* price) {
  Table t({"field", "value"});
  t.add_row({"name", s.name});
  t.add_row({"description", s.description});
  t.add_row({"GPU", s.gpu.name + " (" + s.gpu.description + ")"});
  t.add_row({"node kind", std::string(to_string(s.node_kind))});
  t.add_row({"GPUs per node", std::to_string(s.gpus_per_node)});
  t.add_row({"CPUs per node", std::to_string(s.cpus.count) + " x " + s.cpus.model});
  t.add_row({"nodes per NVLink domain", std::to_string(s.nodes_per_domain)});
  t.add_row({"GPUs per NVLink domain", std::to_string(s.domain_size)});
  t.add_row({"NVLink switch", s.nvlink_switch.name + ", " +
                                  std::string(to_string(s.nvlink_switch.kind)) + ", " +
                                  std::to_string(s.nvlink_switch.chips) + " chips"});
  t.add_row({"NVLink SHARP (NVLS)", s.nvlink_switch.nvlink_sharp ? "yes" : "no"});
  t.add_row({"scale-out NICs per GPU",
             std::to_string(s.scale_out.nics_per_gpu) + " x " + s.scale_out.nic_model});
  t.add_row({"scale-out per GPU (GB/s, one direction)",
             num(in_gigabytes_per_second(s.scale_out_bandwidth_per_gpu()))});
  t.add_row({"scale-out fabric", s.scale_out.fabric});
  t.add_section("per NVLink domain (derived)");
  for (DType type : {DType::kFP4, DType::kFP8, DType::kBF16}) {
    t.add_row({"dense peak " + std::string(to_string(type)) + " (PFLOP/s)",
               rate_or_dash(s.domain_peak_dense(type), in_petaflop_per_second)});
  }
  t.add_row({"HBM capacity (GiB)", num(in_gibibytes(s.domain_hbm_capacity()))});
  t.add_row({"HBM bandwidth (TB/s)", num(in_terabytes_per_second(s.domain_hbm_bandwidth()))});
  t.add_row({"NVLink bidirectional (TB/s)",
             num(in_terabytes_per_second(s.domain_nvlink_bandwidth_bidirectional()))});
  if (price != nullptr) {
    t.add_section("price and power per GPU (" + price->location.file + ")");
    t.add_row({"price ($/GPU-hour)", num(in_usd_per_hour(price->price_per_gpu_hour))});
    t.add_row({"price source", price->price_source + ", " + price->price_date});
    t.add_row({"power at load (W)", num(in_watts(price->power_per_gpu_load))});
    t.add_row({"power at idle (W)", num(in_watts(price->power_per_gpu_idle))});
    t.add_row({"power source", price->power_source});
  }
  return t;
}

Table hardware_comparison(const std::vector<hw::SystemSpec>& systems,
                          const hw::PriceSheet& prices) {
  const bool ratio = systems.size() == 2;
  std::vector<std::string> header{"figure"};
  for (const auto& s : systems) header.push_back(s.name);
  if (ratio) header.push_back(systems[0].name + " / " + systems[1].name);
  Table t(header);

  auto add = [&](const std::string& label, const Metric& metric) {
    std::vector<std::string> row{label};
    std::vector<std::optional<double>> values;
    for (const auto& s : systems) {
      values.push_back(metric(s, prices.at(s.name)));
      row.push_back(values.back() ? num(*values.back()) : "-");
    }
    if (ratio) {
      const bool ok = values[0] && values[1] && *values[1] != 0.0;
      row.push_back(ok ? format_number(*values[0] / *values[1], 3) + "x" : "-");
    }
    t.add_row(row);
  };
  const double hours_per_month = scale::kHoursPerMonth;

  t.add_section("per GPU");
  std::vector<std::string> gpu_row{"GPU"};
  for (const auto& s : systems) gpu_row.push_back(s.gpu.name);
  if (ratio) gpu_row.emplace_back("");
  t.add_row(gpu_row);
  for (DType type : {DType::kFP4, DType::kFP8, DType::kBF16}) {
    add("dense " + std::string(to_string(type)) + " (PFLOP/s)",
        [type](const auto& s, const auto&) { return peak_pflops(s, type, false); });
  }
  add("HBM capacity (GiB)", [](const auto& s, const auto&) {
    return std::optional<double>(in_gibibytes(s.gpu.hbm.capacity));
  });
  add("HBM bandwidth (TB/s)", [](const auto& s, const auto&) {
    return std::optional<double>(in_terabytes_per_second(s.gpu.hbm.bandwidth));
  });
  add("NVLink per direction (GB/s)", [](const auto& s, const auto&) {
    return std::optional<double>(in_gigabytes_per_second(s.gpu.nvlink.bandwidth_per_direction));
  });
  add("scale-out per direction (GB/s)", [](const auto& s, const auto&) {
    return std::optional<double>(in_gigabytes_per_second(s.scale_out_bandwidth_per_gpu()));
  });
  add("TDP (W)",
      [](const auto& s, const auto&) { return std::optional<double>(in_watts(s.gpu.tdp)); });
  add("price ($/GPU-hour)", [](const auto&, const auto& p) {
    return std::optional<double>(in_usd_per_hour(p.price_per_gpu_hour));
  });
  add("all-in power at load (W)", [](const auto&, const auto& p) {
    return std::optional<double>(in_watts(p.power_per_gpu_load));
  });

  t.add_section("per NVLink domain");
  add("GPUs", [](const auto& s, const auto&) { return std::optional<double>(s.domain_size); });
  for (DType type : {DType::kFP4, DType::kFP8, DType::kBF16}) {
    add("dense " + std::string(to_string(type)) + " (PFLOP/s)",
        [type](const auto& s, const auto&) { return peak_pflops(s, type, true); });
  }
  add("HBM capacity (GiB)", [](const auto& s, const auto&) {
    return std::optional<double>(in_gibibytes(s.domain_hbm_capacity()));
  });
  add("HBM bandwidth (TB/s)", [](const auto& s, const auto&) {
    return std::optional<double>(in_terabytes_per_second(s.domain_hbm_bandwidth()));
  });
  add("NVLink bidirectional (TB/s)", [](const auto& s, const auto&) {
    return std::optional<double>(
        in_terabytes_per_second(s.domain_nvlink_bandwidth_bidirectional()));
  });
  add("price ($/hour)", [](const auto& s, const auto& p) {
    return std::optional<double>(in_usd_per_hour(p.price_per_gpu_hour) * s.domain_size);
  });
  add("price ($/month, 730 h)", [hours_per_month](const auto& s, const auto& p) {
    return std::optional<double>(in_usd_per_hour(p.price_per_gpu_hour) * s.domain_size *
                                 hours_per_month);
  });
  add("power at load (kW)", [](const auto& s, const auto& p) {
    return std::optional<double>(in_kilowatts(p.power_per_gpu_load) * s.domain_size);
  });
  return t;
}

}  // namespace moesim::study
