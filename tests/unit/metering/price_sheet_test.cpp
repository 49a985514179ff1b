#include "kubefn/metering/price_sheet.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace kubefn::metering {
namespace {

PriceSheet parsed(const std::string& text) {
  auto r = parse_price_sheet(text);
  if (auto* e = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "parse_price_sheet(" << text << "): " << *e;
    return {};
  }
  return std::get<PriceSheet>(r);
}

std::string error_of(const std::string& text) {
  auto r = parse_price_sheet(text);
  if (auto* e = std::get_if<std::string>(&r)) return *e;
  ADD_FAILURE() << "parse_price_sheet(" << text << ") succeeded";
  return "";
}

TEST(PriceSheet, DefaultsAsJson) {
  const auto expected = nlohmann::json::parse(R"({
    "currency": "USD", "granularity": "1ms", "cpuCoreHour": 0.031611, "memoryGBHour": 0.004237,
    "requestsPerMillion": 0.0, "lambda": {"requestsPerMillion": 0.20, "gbSecond": 0.0000166667},
    "defaultMemory": "128Mi"})");
  EXPECT_EQ(to_json(PriceSheet{}), expected);
}

TEST(PriceSheet, EmptyTextIsTheDefaults) {
  EXPECT_EQ(parsed(""), PriceSheet{});
  EXPECT_EQ(parsed("{}"), PriceSheet{});
  EXPECT_EQ(parsed("# nothing set\n"), PriceSheet{});
}

TEST(PriceSheet, DefaultsRoundTripExactly) {
  const PriceSheet d;
  EXPECT_EQ(parsed(to_json(d).dump()), d);
  EXPECT_EQ(parsed(to_json(d).dump(2)), d);
}

TEST(PriceSheet, OtherSheetsRoundTripExactly) {
  for (double g : {0.1, 0.0015, 1.0, 120.0, 3600.0, 1e-9, 0.000123456789}) {
    PriceSheet p;
    p.granularity_seconds = g;
    p.default_memory_bytes = 1536LL << 20;
    p.cpu_core_hour = 0.1 + 0.2;  // not a short decimal
    p.currency = "EUR";
    EXPECT_EQ(parsed(to_json(p).dump()), p) << to_json(p).dump();
  }
  for (std::int64_t bytes : {1LL, 1000LL, 1024LL, 512000000LL, 1000000000LL, 1LL << 30, 12345LL}) {
    PriceSheet p;
    p.default_memory_bytes = bytes;
    EXPECT_EQ(parsed(to_json(p).dump()), p) << to_json(p).dump();
  }
}

TEST(PriceSheet, GranularityAndMemoryAreWrittenInTheirUnits) {
  PriceSheet p;
  p.granularity_seconds = 0.1;
  p.default_memory_bytes = 512000000;
  EXPECT_EQ(to_json(p)["granularity"], "100ms");
  EXPECT_EQ(to_json(p)["defaultMemory"], "512M");
  p.granularity_seconds = 0.0015;
  p.default_memory_bytes = 1LL << 30;
  EXPECT_EQ(to_json(p)["granularity"], "1500us");
  EXPECT_EQ(to_json(p)["defaultMemory"], "1Gi");
  p.granularity_seconds = 120;
  EXPECT_EQ(to_json(p)["granularity"], "2m");
}

TEST(PriceSheet, ReadsYaml) {
  const auto p = parsed(R"(
currency: eur
granularity: 100ms
cpuCoreHour: 0.05
memoryGBHour: 0.01
requestsPerMillion: 0.4
lambda:
  requestsPerMillion: 0.25
  gbSecond: 0.00002
defaultMemory: 256Mi
)");
  EXPECT_EQ(p.currency, "EUR");
  EXPECT_DOUBLE_EQ(p.granularity_seconds, 0.1);
  EXPECT_DOUBLE_EQ(p.cpu_core_hour, 0.05);
  EXPECT_DOUBLE_EQ(p.memory_gb_hour, 0.01);
  EXPECT_DOUBLE_EQ(p.requests_per_million, 0.4);
  EXPECT_DOUBLE_EQ(p.lambda_requests_per_million, 0.25);
  EXPECT_DOUBLE_EQ(p.lambda_gb_second, 0.00002);
  EXPECT_EQ(p.default_memory_bytes, 256LL << 20);
}

TEST(PriceSheet, AMissingFieldKeepsItsDefault) {
  const auto p = parsed("cpuCoreHour: 1\nlambda: {gbSecond: 0.5}\n");
  PriceSheet expected;
  expected.cpu_core_hour = 1;
  expected.lambda_gb_second = 0.5;
  EXPECT_EQ(p, expected);
}

TEST(PriceSheet, Durations) {
  auto g = [](const std::string& d) { return parsed("granularity: " + d).granularity_seconds; };
  EXPECT_EQ(g("1ms"), 0.001);
  EXPECT_EQ(g("100ms"), 0.1);
  EXPECT_EQ(g("1s"), 1.0);
  EXPECT_EQ(g("2m"), 120.0);
  EXPECT_EQ(g("1h"), 3600.0);
  EXPECT_EQ(g("500us"), 0.0005);
  EXPECT_EQ(g("1000000ns"), 0.001);
  EXPECT_EQ(g("1.5s"), 1.5);
  EXPECT_EQ(g("\"10ms\""), 0.01);
}

TEST(PriceSheet, Quantities) {
  auto m = [](const std::string& q) { return parsed("defaultMemory: " + q).default_memory_bytes; };
  EXPECT_EQ(m("128Mi"), 128LL << 20);
  EXPECT_EQ(m("1Gi"), 1LL << 30);
  EXPECT_EQ(m("512M"), 512000000);
  EXPECT_EQ(m("1e9"), 1000000000);
  EXPECT_EQ(m("1048576"), 1048576);
  EXPECT_EQ(m("1.5Ki"), 1536);
  EXPECT_EQ(m("2k"), 2000);
  EXPECT_EQ(m("1Ti"), 1LL << 40);
  EXPECT_EQ(m("1E"), 1000000000000000000LL);
}

TEST(PriceSheet, ErrorsNameTheFieldAndWhatItAccepts) {
  EXPECT_EQ(error_of("granularity: abc"),
            "granularity: \"abc\" is not a duration (use 1ms, 100ms, 1s)");
  EXPECT_EQ(error_of("granularity: 0.001"),
            "granularity: \"0.001\" is not a duration (use 1ms, 100ms, 1s)");
  EXPECT_EQ(error_of("granularity: 2h"), "granularity: \"2h\" is out of range (> 0 and <= 1h)");
  EXPECT_EQ(error_of("granularity: 0s"), "granularity: \"0s\" is out of range (> 0 and <= 1h)");
  EXPECT_EQ(error_of("granularity: {a: 1}"),
            "granularity: expected a duration (1ms, 100ms, 1s), got a map");
  EXPECT_EQ(error_of("cpuCoreHours: 1"),
            "unknown field \"cpuCoreHours\" (fields: currency, granularity, cpuCoreHour, "
            "memoryGBHour, requestsPerMillion, lambda, defaultMemory)");
  EXPECT_EQ(error_of("lambda: {gbSeconds: 1}"),
            "unknown field \"lambda.gbSeconds\" (fields: requestsPerMillion, gbSecond)");
  EXPECT_EQ(error_of("cpuCoreHour: cheap"),
            "cpuCoreHour: \"cheap\" is not a number (a number >= 0)");
  EXPECT_EQ(error_of("memoryGBHour: -1"), "memoryGBHour: -1 is out of range (a number >= 0)");
  EXPECT_EQ(error_of("requestsPerMillion: [1]"),
            "requestsPerMillion: expected a number >= 0, got a list");
  EXPECT_EQ(error_of("cpuCoreHour:"), "cpuCoreHour: expected a number >= 0, got null");
  EXPECT_EQ(error_of("cpuCoreHour: .inf"), "cpuCoreHour: \".inf\" is not a number (a number >= 0)");
  EXPECT_EQ(error_of("lambda: {gbSecond: x}"),
            "lambda.gbSecond: \"x\" is not a number (a number >= 0)");
  EXPECT_EQ(error_of("currency: dollars"),
            "currency: \"dollars\" is not a currency code (a 3-letter currency code, e.g. USD, "
            "EUR)");
  EXPECT_EQ(error_of("defaultMemory: lots"),
            "defaultMemory: \"lots\" is not a quantity of bytes (use 128Mi, 1Gi, 512M)");
  EXPECT_EQ(error_of("defaultMemory: 128MB"),
            "defaultMemory: \"128MB\" is not a quantity of bytes (use 128Mi, 1Gi, 512M)");
  EXPECT_EQ(error_of("defaultMemory: 0"), "defaultMemory: \"0\" is out of range (> 0 and <= 4Ei)");
  EXPECT_EQ(error_of("defaultMemory: -1Mi"),
            "defaultMemory: \"-1Mi\" is out of range (> 0 and <= 4Ei)");
  EXPECT_EQ(error_of("lambda: 1"),
            "lambda: expected a map of fields (requestsPerMillion, gbSecond), got a scalar");
  EXPECT_EQ(error_of("- 1\n- 2\n"),
            "price sheet: expected a map of fields (currency, granularity, cpuCoreHour, "
            "memoryGBHour, requestsPerMillion, lambda, defaultMemory), got a list");
  EXPECT_EQ(error_of("currency: USD\ncurrency: EUR\n"), "duplicate field \"currency\"");
  EXPECT_EQ(error_of("{\"cpuCoreHour\": 1,"), error_of("{\"cpuCoreHour\": 1,"));
  EXPECT_EQ(error_of("{\"cpuCoreHour\": 1,").rfind("price sheet: line 1, column ", 0), 0u)
      << error_of("{\"cpuCoreHour\": 1,");
}

TEST(PriceSheet, BilledRoundsUpToTheGranularity) {
  PriceSheet ms;  // 1 ms
  EXPECT_DOUBLE_EQ(ms.billed(0.0004), 0.001);
  EXPECT_DOUBLE_EQ(ms.billed(0.001), 0.001);
  EXPECT_DOUBLE_EQ(ms.billed(0.0011), 0.002);
  EXPECT_DOUBLE_EQ(ms.billed(0.5), 0.5);
  EXPECT_EQ(ms.billed(0), 0);
  EXPECT_EQ(ms.billed(-1), 0);

  PriceSheet tenth;
  tenth.granularity_seconds = 0.1;
  EXPECT_DOUBLE_EQ(tenth.billed(0.0004), 0.1);
  EXPECT_DOUBLE_EQ(tenth.billed(0.1), 0.1);
  EXPECT_DOUBLE_EQ(tenth.billed(0.3), 0.3);
  EXPECT_DOUBLE_EQ(tenth.billed(0.1001), 0.2);
  EXPECT_DOUBLE_EQ(tenth.billed(1.25), 1.3);
}

TEST(PriceSheet, ReplicaSecond) {
  PriceSheet p;
  p.cpu_core_hour = 3.6;
  p.memory_gb_hour = 7.2;
  EXPECT_DOUBLE_EQ(p.replica_second(2, 0.5), (2 * 3.6 + 0.5 * 7.2) / 3600);
}

}  // namespace
}  // namespace kubefn::metering
