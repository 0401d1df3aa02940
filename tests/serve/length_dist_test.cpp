#include "sim/serve/length_dist.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/stats.hpp"
#include "sim/serve/workload.hpp"
#include "test_util.hpp"

namespace moesim::serve {
namespace {

config::ConfigNode yaml(const std::string& text) {
  return config::ConfigNode::parse(text, "w.yaml");
}

using ::moesim::test::config_error;

using ::moesim::test::TempFile;

/// `n` draws of `d` from one stream.
SampleSet draws(const LengthDist& d, int n, std::uint64_t seed = 11) {
  Rng rng(seed, stream_id("serve.workload.length"));
  SampleSet s;
  for (int i = 0; i < n; ++i) s.add(d.sample(rng));
  return s;
}

/// A workload with `osl` as its output length (input fixed at 100).
WorkloadSpec with_osl(const std::string& osl, int requests = 10) {
  return parse_workload(yaml("requests: " + std::to_string(requests) +
                             "\narrival: {process: closed_loop, concurrency: 4}\nisl: 100\n"
                             "osl: " +
                             osl + "\n"));
}

std::string csv_path() {
  return (std::filesystem::path(MOESIM_SOURCE_DIR) / "workloads" / "lengths-example.csv").string();
}

TEST_CASE("a lognormal given by mean and stdev draws that mean and stdev") {
  const LengthDist d = with_osl("{dist: lognormal, mean: 3653, stdev: 3653}").classes[0].osl;
  REQUIRE(d.kind == LengthDist::Kind::kLognormal);
  // sigma^2 = ln(1 + 1) = ln 2; mu = ln 3653 - ln 2 / 2.
  CHECK(d.sigma == doctest::Approx(std::sqrt(std::log(2.0))));
  CHECK(d.mu == doctest::Approx(std::log(3653.0) - 0.5 * std::log(2.0)));
  // No max: the clamp is the exp(mu + 6 sigma) quantile (about 3.8e5 tokens), which 1e-9 of
  // draws exceed, so the clamped mean is the mean asked for.
  CHECK(d.max == static_cast<std::int32_t>(std::ceil(std::exp(d.mu + 6.0 * d.sigma))));
  CHECK(d.upper_bound() == d.max);
  CHECK(d.expected() == doctest::Approx(3653.0).epsilon(1e-6));
  const SampleSet s = draws(d, 200'000);
  // Standard error of the mean 3653 / sqrt(200000) = 8.2 tokens (0.22 %); tolerance 1 %.
  CHECK(s.moments().mean() == doctest::Approx(3653.0).epsilon(0.01));
  // Sample stdev: with sigma^2 = ln 2 the excess kurtosis is e^(4s2) + 2e^(3s2) + 3e^(2s2) - 6
  // = 38, so its relative standard error is about sqrt(40 / 200000) / 2 = 0.7 %; tolerance 4 %.
  CHECK(s.moments().stddev() == doctest::Approx(3653.0).epsilon(0.04));
}

TEST_CASE("a lognormal given by p50 and p90 draws those quantiles") {
  const LengthDist d = with_osl("{dist: lognormal, p50: 1000, p90: 4000}").classes[0].osl;
  // mu = ln 1000; sigma = ln 4 / z90 = 1.0817.
  CHECK(d.mu == doctest::Approx(std::log(1000.0)));
  CHECK(d.sigma == doctest::Approx(std::log(4.0) / kNormalQuantile90));
  const SampleSet s = draws(d, 200'000);
  // Sample quantile q of ln X has standard error sqrt(q (1 - q) / n) / phi(z_q) x sigma:
  // 0.0030 at the median, 0.0041 at the 90th percentile (relative, in X); tolerances about
  // 5 standard errors.
  CHECK(s.p50() == doctest::Approx(1000.0).epsilon(0.015));
  CHECK(s.p90() == doctest::Approx(4000.0).epsilon(0.02));
  // The mean is exp(mu + sigma^2 / 2) = 1000 e^0.585 = 1795.
  CHECK(d.expected() == doctest::Approx(1000.0 * std::exp(0.5 * d.sigma * d.sigma)));
}

TEST_CASE("lognormal clamps hold and expected() gives the clamped mean") {
  const LengthDist d =
      with_osl("{dist: lognormal, p50: 1000, p90: 4000, min: 500, max: 2000}").classes[0].osl;
  CHECK(d.min == 500);
  CHECK(d.upper_bound() == 2000);
  const SampleSet s = draws(d, 200'000);
  CHECK(s.quantile(0.0) == 500.0);   // P(X < 500) = Phi(ln 0.5 / 1.08) = 26 %: reached
  CHECK(s.quantile(1.0) == 2000.0);  // P(X > 2000) = 1 - Phi(ln 2 / 1.08) = 26 %: reached
  // The closed form a Phi(alpha) + e^(mu + s^2/2) (Phi(beta - s) - Phi(alpha - s))
  // + b (1 - Phi(beta)) against the sample mean: the clamped variable's stdev is under 600,
  // so the standard error is under 1.4 tokens (0.13 %); rounding to whole tokens moves the
  // mean by far less. Tolerance 0.5 %.
  CHECK(s.moments().mean() == doctest::Approx(d.expected()).epsilon(0.005));
  CHECK(d.expected() < 1000.0 * std::exp(0.5 * d.sigma * d.sigma));  // the max clamp bites
}

TEST_CASE("empirical draw frequencies match the weights") {
  const LengthDist d = read_length_csv(csv_path(), "osl.file");
  REQUIRE(d.kind == LengthDist::Kind::kEmpirical);
  CHECK(d.values == std::vector<std::int32_t>{128, 512, 1024, 4096, 16384});
  // (128 x 10 + 512 x 30 + 1024 x 30 + 4096 x 20 + 16384 x 10) / 100 = 2931.2.
  CHECK(d.expected() == doctest::Approx(2931.2));
  CHECK(d.upper_bound() == 16384);
  Rng rng(5, stream_id("serve.workload.length"));
  std::map<std::int32_t, int> count;
  const int n = 100'000;
  for (int i = 0; i < n; ++i) ++count[d.sample(rng)];
  CHECK(count.size() == 5);
  // Binomial standard error at most sqrt(0.3 x 0.7 / 100000) = 0.0014; tolerance 0.006.
  const std::map<std::int32_t, double> share = {
      {128, 0.1}, {512, 0.3}, {1024, 0.3}, {4096, 0.2}, {16384, 0.1}};
  for (const auto& [tokens, p] : share) {
    CAPTURE(tokens);
    CHECK(static_cast<double>(count[tokens]) / n == doctest::Approx(p).epsilon(0.06));
  }
}

TEST_CASE("a plain list of lengths is drawn one sample per row") {
  TempFile csv("moesim_lengths_list.csv", "tokens\n5\n7\n5\n\n5\n");
  const LengthDist d = read_length_csv(csv.path, "isl.file");
  CHECK(d.values == std::vector<std::int32_t>{5, 7});  // equal lengths merged
  CHECK(d.expected() == doctest::Approx(5.5));         // (5 + 7 + 5 + 5) / 4
  const SampleSet s = draws(d, 40'000);
  // P(7) = 1/4: standard error sqrt(0.25 x 0.75 / 40000) = 0.0022; tolerance 0.01.
  CHECK((s.moments().mean() - 5.0) / 2.0 == doctest::Approx(0.25).epsilon(0.04));
}

TEST_CASE("an empirical file is found relative to the workload file") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "moesim_lengths_rel";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "lens.csv") << "tokens,weight\n10,1\n20,3\n";
  std::ofstream(dir / "w.yaml") << "requests: 4\narrival: {process: closed_loop, concurrency: 1}\n"
                                   "isl: {dist: empirical, file: lens.csv}\nosl: 1\n";
  const WorkloadSpec w = parse_workload(config::ConfigNode::load_file(dir / "w.yaml"));
  std::filesystem::remove_all(dir);
  CHECK(w.classes[0].isl.values == std::vector<std::int32_t>{10, 20});
  CHECK(w.max_input_tokens() == 20);
}

TEST_CASE("length errors name the file, the line and the key") {
  // YAML side: the dist, its keys and its values.
  const ConfigError dist = config_error([] { with_osl("{dist: lognromal, mean: 10, stdev: 1}"); });
  CHECK(dist.key_path() == "osl.dist");
  CHECK(dist.suggestion() == "lognormal");
  const ConfigError key =
      config_error([] { with_osl("{dist: lognormal, mean: 10, stdev: 1, mx: 20}"); });
  CHECK(key.key_path() == "osl.mx");
  CHECK(key.suggestion() == "max");
  const ConfigError both =
      config_error([] { with_osl("{dist: lognormal, mean: 10, stdev: 1, p50: 10, p90: 20}"); });
  CHECK(std::string(both.what()).find("not both") != std::string::npos);
  const ConfigError neither = config_error([] { with_osl("{dist: lognormal, max: 20}"); });
  CHECK(neither.key_path() == "osl");
  CHECK(neither.expected().find("p50, p90") != std::string::npos);
  CHECK(config_error([] { with_osl("{dist: lognormal, mean: 10}"); }).key_path() == "osl");
  CHECK(config_error([] { with_osl("{dist: lognormal, p50: 100, p90: 50}"); }).key_path() ==
        "osl.p90");
  CHECK(config_error([] {
          with_osl("{dist: lognormal, p50: 100, p90: 200, min: 50, max: 40}");
        }).key_path() == "osl.max");
  CHECK(config_error([] { with_osl("{dist: empirical}"); }).key_path() == "osl");
  CHECK(config_error([] { with_osl("{dist: empirical, file: x.csv, weight: 1}"); }).key_path() ==
        "osl.weight");

  // A missing file: at the YAML key, naming the file.
  const ConfigError missing =
      config_error([] { with_osl("{dist: empirical, file: /nonexistent/lens.csv}"); });
  CHECK(missing.key_path() == "osl.file");
  CHECK(missing.where().file == "w.yaml");
  CHECK(std::string(missing.what()).find("/nonexistent/lens.csv") != std::string::npos);

  // CSV side: each error at the CSV's line, with the key that named the file.
  auto csv_error = [](const std::string& name, const std::string& text) {
    TempFile csv(name, text);
    const ConfigError e =
        config_error([&] { with_osl("{dist: empirical, file: " + csv.path.string() + "}"); });
    CHECK(std::string(e.what()).find(name) != std::string::npos);
    CHECK(e.where().file == csv.path.string());
    return e;
  };
  const ConfigError header = csv_error("moesim_len_header.csv", "# lengths\ntoken,weight\n5,1\n");
  CHECK(header.where().line == 2);
  CHECK(header.key_path() == "osl.file.header");
  CHECK(header.suggestion() == "tokens");
  CHECK(std::string(header.what()).find("did you mean 'tokens'") != std::string::npos);
  const ConfigError no_tokens = csv_error("moesim_len_notokens.csv", "weight\n1\n");
  CHECK(no_tokens.key_path() == "osl.file.header");
  const ConfigError fraction = csv_error("moesim_len_frac.csv", "tokens,weight\n5,1\n12.5,1\n");
  CHECK(fraction.where().line == 3);
  CHECK(fraction.where().column == 1);
  CHECK(fraction.key_path() == "osl.file.tokens");
  CHECK(std::string(fraction.what()).find("\"12.5\"") != std::string::npos);
  const ConfigError zero = csv_error("moesim_len_zero.csv", "tokens\n0\n");
  CHECK(zero.where().line == 2);
  CHECK(zero.key_path() == "osl.file.tokens");
  const ConfigError negative = csv_error("moesim_len_neg.csv", "tokens,weight\n5,1\n6,-2\n");
  CHECK(negative.where().line == 3);
  CHECK(negative.where().column == 2);
  CHECK(negative.key_path() == "osl.file.weight");
  const ConfigError none = csv_error("moesim_len_none.csv", "tokens,weight\n5,0\n6,0\n");
  CHECK(none.key_path() == "osl.file.weight");
  CHECK(none.expected() == "a total weight > 0");
  const ConfigError empty = csv_error("moesim_len_empty.csv", "tokens,weight\n");
  CHECK(empty.key_path() == "osl.file");
  const ConfigError short_row = csv_error("moesim_len_short.csv", "tokens,weight\n5\n");
  CHECK(short_row.where().line == 2);
  CHECK(short_row.key_path() == "osl.file");
}

TEST_CASE("the same seed gives the same long-tailed lengths, bit for bit") {
  const WorkloadSpec w =
      parse_workload(yaml("requests: 2000\narrival: {process: closed_loop, concurrency: 4}\n"
                          "classes:\n"
                          "  - {name: a, isl: {dist: lognormal, p50: 800, p90: 3000, max: 16384},\n"
                          "     osl: {dist: lognormal, mean: 3653, stdev: 4000}}\n"
                          "  - {name: b, isl: {dist: empirical, file: " +
                          csv_path() + "}, osl: {dist: normal, mean: 100, stdev: 10}}\n"));
  const auto one = generate_requests(w, 42);
  const auto two = generate_requests(w, 42);
  const auto other = generate_requests(w, 43);
  REQUIRE(one.size() == two.size());
  bool differs = false;
  for (std::size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].class_index == two[i].class_index);
    CHECK(one[i].input_tokens == two[i].input_tokens);
    CHECK(one[i].output_tokens == two[i].output_tokens);
    differs |= one[i].output_tokens != other[i].output_tokens;
  }
  CHECK(differs);
}

}  // namespace
}  // namespace moesim::serve
