// Tests of calibration (sim/cost/calibration.hpp) and the calibrated compute model
// (sim/cost/impl/calibrated.hpp): the fit recovers known parameters from synthetic
// measurements made by the model itself with noise, the file round-trips, bad files are
// located errors, predictions outside the fitted shapes are flagged, and the probes give the
// MoE routing, quantized-row and MLA prefill block terms what the kernels walk and launch.

#include "sim/cost/calibration.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "sim/config/catalog.hpp"
#include "sim/cost/impl/calibrated.hpp"
#include "sim/cost/kernel_probe.hpp"
#include "sim/cost/registry.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

struct H200 {
  H200() {
    const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
    gpu = hw::load_gpu(catalog, "h200");
    params = EfficiencyTable::load(catalog).resolve(gpu);
    ComputeModelRegistry registry;
    register_builtin(registry);
    roofline = registry.make("roofline", gpu, params);
    features = std::make_unique<Featurizer>(gpu, params);
  }
  GpuModelLookup lookup() const {
    return [this](const Measurement&) { return GpuModels{roofline.get(), features.get()}; };
  }
  hw::GpuSpec gpu;
  EfficiencyParams params;
  std::unique_ptr<ComputeModel> roofline;
  std::unique_ptr<Featurizer> features;
};

Features coefficients(double fixed_us, double stream, double compute) {
  Features c{};
  c[static_cast<std::size_t>(Term::kFixed)] = fixed_us * 1e-6;
  c[static_cast<std::size_t>(Term::kStream)] = stream;
  c[static_cast<std::size_t>(Term::kCompute)] = compute;
  return c;
}

/// FP8 GEMMs over memory- and compute-bound shapes, timed by the family equation with `coef`
/// and a deterministic +-2% noise; line numbers 2, 3, ... as in a file.
std::vector<Measurement> synthetic_gemms(const H200& h, const Features& coef, bool overlap) {
  std::vector<Measurement> out;
  std::uint64_t state = 12345;
  int line = 2;
  for (const std::int64_t m : {1, 4, 16, 64, 256, 1024, 4096, 16384}) {
    for (const std::int64_t n : {1024, 4096, 16384}) {
      for (const std::int64_t k : {1024, 4096, 16384}) {
        Measurement x;
        x.gpu = "h200";
        x.framework = "synthetic";
        x.version = "1";
        x.op = MeasuredOp::kGemm;
        x.dtype = "fp8";
        x.shape.m = m;
        x.shape.n = n;
        x.shape.k = k;
        x.where = {"synthetic.csv", line++, 1};
        const llm::Op op = make_probe(x).ops.front();
        const double t =
            family_time(coef, h.features->features(op.body, op.flops(), op.min_bytes()))
                .total(overlap);
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const double noise =
            0.02 * (static_cast<double>(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        x.median = ceil_duration(t * (1.0 + noise));
        out.push_back(x);
      }
    }
  }
  return out;
}

TEST_CASE("calibrate recovers the parameters that generated noisy measurements") {
  const H200 h;
  for (const bool overlap : {false, true}) {
    CAPTURE(overlap);
    const Features truth = coefficients(5.0, 1.25, 1.6);
    const std::vector<Measurement> ms = synthetic_gemms(h, truth, overlap);
    const Calibration c = fit_calibration(ms, h.lookup());
    REQUIRE(c.gpus.size() == 1);
    REQUIRE(c.gpus[0].families.size() == 1);
    const FamilyFit& f = c.gpus[0].families[0];
    CHECK(f.key.name() == "gemm.fp8");
    CHECK(f.overlap == overlap);
    // 72 rows, lines 5, 10, ... held back: 14 of them.
    CHECK(f.fitted == 72 - 14);
    for (const Term t : {Term::kFixed, Term::kStream, Term::kCompute}) {
      CAPTURE(to_string(t));
      const auto i = static_cast<std::size_t>(t);
      CHECK(f.coef[i] == doctest::Approx(truth[i]).epsilon(0.05));
    }
    CHECK(f.range[0][0] == 1);
    CHECK(f.range[0][1] == 16384);
  }
}

TEST_CASE("held-back errors of the fit are small where the roofline's are not") {
  const H200 h;
  const std::vector<Measurement> ms = synthetic_gemms(h, coefficients(5.0, 1.25, 1.6), false);
  Calibration c = fit_calibration(ms, h.lookup());
  const auto fitted = make_calibrated_model(
      [&] {
        ComputeModelRegistry r;
        register_builtin(r);
        return r.make("roofline", h.gpu, h.params);
      }(),
      c.gpus[0], h.params);
  record_errors(c, predict(ms, h.lookup()), false);
  record_errors(c,
                predict(ms,
                        [&](const Measurement&) {
                          return GpuModels{fitted.get(), h.features.get()};
                        }),
                true);
  const FamilyFit& f = c.gpus[0].families[0];
  CHECK(f.after.points == 14);
  CHECK(f.after.median < 0.03);  // the noise is +-2%, plus rounding
  CHECK(f.before.median > f.after.median);
}

TEST_CASE("a calibration file round-trips and bad ones are located errors") {
  const H200 h;
  const Calibration c =
      fit_calibration(synthetic_gemms(h, coefficients(5.0, 1.25, 1.6), false), h.lookup());
  const std::string text = write_calibration(c, std::vector<std::string>{"test"});
  const Calibration back = parse_calibration(config::ConfigNode::parse(text, "cal.yaml"));
  REQUIRE(back.gpu("h200") != nullptr);
  const FamilyFit* f = back.gpu("h200")->find(*parse_family("gemm.fp8"));
  REQUIRE(f != nullptr);
  for (std::size_t i = 0; i < kTerms; ++i) {
    CHECK(f->coef[i] == doctest::Approx(c.gpus[0].families[0].coef[i]).epsilon(1e-5));
  }
  auto error_of = [](const std::string& yaml) -> std::string {
    try {
      (void)parse_calibration(config::ConfigNode::parse(yaml, "bad.yaml"));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  const std::string head = "framework: t\ngpus:\n  h200:\n";
  const std::string range = "      range: {m: [1, 2], n: [1, 2], k: [1, 2]}\n";
  CHECK(error_of(head + "    gemm.fp88:\n" + range).find("did you mean 'gemm.fp8'") !=
        std::string::npos);
  CHECK(error_of(head + "    gemm.fp8:\n      fixed: 5\n" + range).find("bad.yaml:5") !=
        std::string::npos);
  CHECK(error_of(head + "    gemm.fp8:\n      stream: -1\n" + range).find(">= 0") !=
        std::string::npos);
  CHECK(error_of(head + "    gemm.fp8:\n      per_expert: \"1 us\"\n" + range).find("per_expert") !=
        std::string::npos);
  // A file whose numbers name no source is refused (the other mistakes are reported first).
  CHECK(error_of(head + "    gemm.fp8:\n      fixed: \"1 us\"\n" + range).find("source") !=
        std::string::npos);
  CHECK(error_of(head + "    gemm.fp8:\n      range: {m: [3, 2], n: [1, 2], k: [1, 2]}\n")
            .find("lo <= hi") != std::string::npos);
}

TEST_CASE("ops outside the fitted shapes or families are flagged as extrapolated") {
  const H200 h;
  GpuCalibration cal;
  cal.gpu = "h200";
  FamilyFit f;
  f.key = *parse_family("gemm.fp8");
  f.coef = coefficients(5.0, 1.25, 1.6);
  f.range = {{{1, 1024}, {1024, 16384}, {1024, 16384}}};
  cal.families.push_back(f);
  ComputeModelRegistry r;
  register_builtin(r);
  const auto model = make_calibrated_model(r.make("roofline", h.gpu, h.params), cal, h.params);
  Measurement m;
  m.op = MeasuredOp::kGemm;
  m.dtype = "fp8";
  m.shape = {.m = 64, .n = 4096, .k = 4096};
  const OpCost inside = model->price(make_probe(m).ops.front());
  CHECK_FALSE(inside.extrapolated);
  // fixed 5 us + 1.25 x bytes / B (+) 1.6 x FLOPs / (P u): the equation, summed.
  const llm::Op op = make_probe(m).ops.front();
  const double expect =
      family_time(f.coef, h.features->features(op.body, op.flops(), op.min_bytes())).total(false);
  CHECK(to_seconds(inside.time) == doctest::Approx(expect).epsilon(1e-6));
  m.shape.m = 4096;
  CHECK(model->price(make_probe(m).ops.front()).extrapolated);
  m.dtype = "bf16";  // a family the calibration has no fit for: the roofline, flagged
  m.shape.m = 64;
  CHECK(model->price(make_probe(m).ops.front()).extrapolated);
  const llm::Op memory{
      "norm", 0, 0, llm::StreamKind::kCompute, llm::MemoryOp{Bytes{1024}, Bytes{1024}, Flops{0.0}},
      {}};
  CHECK_FALSE(model->price(memory).extrapolated);
}

TEST_CASE("error statistics take the median and the 90th percentile by nearest rank") {
  const ErrorStats s = error_stats({0.5, 0.1, 0.3, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0});
  CHECK(s.points == 10);
  CHECK(s.median == doctest::Approx(0.5));
  CHECK(s.p90 == doctest::Approx(0.9));
}

TEST_CASE("the MoE probe's routing term counts every token-slot entering the module") {
  // NVFP4 DeepSeek-shaped MoE at EP 128 (the B200 CUTLASS rows that grow ~15 ns per token):
  // the collector feeds all 16,384 tokens, so 16,384 x 8 pairs enter the module, while
  // balanced routing leaves 16,384 x 8 / 256 = 512 rows on each of the 2 local experts.
  const H200 h;
  Measurement m;
  m.op = MeasuredOp::kMoe;
  m.dtype = "nvfp4";
  m.distribution = "balanced";
  m.shape = {.tokens = 16384,
             .hidden = 7168,
             .inter = 2048,
             .experts = 256,
             .topk = 8,
             .ep = 128,
             .tp = 1};
  const Probe p = make_probe(m);
  constexpr auto kRoute = static_cast<std::size_t>(Term::kPerRoute);
  double routes = 0.0;
  std::int64_t rows = 0;
  for (const llm::Op& op : p.ops) {
    if (const auto* g = std::get_if<llm::GroupedGemmOp>(&op.body)) {
      routes += h.features->features(op.body, op.flops(), op.min_bytes())[kRoute];
      rows = g->total_tokens();
    }
  }
  CHECK(routes == 16384.0 * 8.0);  // counted once, on moe.gate_up
  CHECK(rows == 2 * 512);
}

TEST_CASE("the MLA prefill probe launches a block per sequence and head") {
  // 256 one-token prompts, 128 heads: the expanded kernel runs one block per (sequence, head)
  // (q = 1 fills one mma_m = 64 row tile), 32,768 blocks over H200's 132 SMs: 249 waves.
  const H200 h;
  Measurement m;
  m.op = MeasuredOp::kMlaPrefill;
  m.dtype = "bf16";
  m.kv_dtype = "bf16";
  m.shape = {.sequences = 256, .heads = 128, .kv_heads = 1, .q_len = 1, .kv_len = 1};
  const llm::Op op = make_probe(m).ops.front();
  CHECK(std::get<llm::AttentionOp>(op.body).kv_heads == 128);
  const Features x = h.features->features(op.body, op.flops(), op.min_bytes());
  CHECK(x[static_cast<std::size_t>(Term::kPerWave)] == 249.0);
}

TEST_CASE("a quantized GEMM's per-row term counts the rows its quantization pass walks") {
  // FP8 block GEMM, m = 1024: the pass quantizes 1024 activation rows; BF16 activations have
  // no pass and no rows.
  const H200 h;
  Measurement m;
  m.op = MeasuredOp::kGemm;
  m.dtype = "fp8_block";
  m.shape = {.m = 1024, .n = 2048, .k = 1024};
  constexpr auto kRow = static_cast<std::size_t>(Term::kPerRow);
  auto rows = [&] {
    const llm::Op op = make_probe(m).ops.front();
    return h.features->features(op.body, op.flops(), op.min_bytes())[kRow];
  };
  CHECK(rows() == 1024.0);
  m.dtype = "bf16";
  CHECK(rows() == 0.0);
}

}  // namespace
}  // namespace moesim::cost
