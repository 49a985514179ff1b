// Resource quantities, parsed as the API server's resource.Quantity parses them (the cases
// were tried against kube-apiserver v1.34.4).
#include "kubefn/controller/quantity.hpp"

#include <gtest/gtest.h>

namespace kubefn::controller {
namespace {

unsigned __int128 nanos(const char* text) {
  auto q = parse_quantity(text);
  EXPECT_TRUE(q.has_value()) << text;
  return q ? q->nanos : 0;
}

constexpr unsigned __int128 kUnit = 1'000'000'000;

TEST(Quantity, SuffixesScaleTheValue) {
  EXPECT_EQ(nanos("1"), kUnit);
  EXPECT_EQ(nanos("500m"), kUnit / 2);
  EXPECT_EQ(nanos("0.5"), kUnit / 2);
  EXPECT_EQ(nanos("1k"), 1000 * kUnit);
  EXPECT_EQ(nanos("1Ki"), 1024 * kUnit);
  EXPECT_EQ(nanos("1.5Gi"), (3ULL << 29) * kUnit);
  EXPECT_EQ(nanos("1e3"), 1000 * kUnit);
  EXPECT_EQ(nanos("1E3"), 1000 * kUnit);
  EXPECT_EQ(nanos("1E"), 1'000'000'000'000'000'000ULL * kUnit);
  EXPECT_EQ(nanos("2e-3"), 2'000'000u);
  EXPECT_EQ(nanos("1n"), 1u);
  EXPECT_EQ(nanos("3u"), 3000u);
  EXPECT_EQ(nanos(" 1.Gi "), (1ULL << 30) * kUnit);
  EXPECT_EQ(nanos("+.5"), kUnit / 2);
  EXPECT_EQ(nanos("000"), 0u);
}

TEST(Quantity, FinerThanANanoRoundsUp) {
  EXPECT_EQ(nanos("1e-20"), 1u);
  EXPECT_EQ(nanos("0.0000000001"), 1u);
  EXPECT_EQ(nanos("1.0000000001"), kUnit + 1);
  EXPECT_EQ(nanos("0.0000000001Ki"), 103u);  // 102.4 nano-units
}

TEST(Quantity, EqualValuesWrittenDifferentlyCompareEqual) {
  EXPECT_EQ(compare(*parse_quantity("1Gi"), *parse_quantity("1073741824")), 0);
  EXPECT_EQ(compare(*parse_quantity("100m"), *parse_quantity("0.1")), 0);
  EXPECT_EQ(compare(*parse_quantity("1k"), *parse_quantity("1e3")), 0);
  EXPECT_LT(compare(*parse_quantity("1Gi"), *parse_quantity("1025Mi")), 0);
  EXPECT_GT(compare(*parse_quantity("1G"), *parse_quantity("953Mi")), 0);
  EXPECT_LT(compare(*parse_quantity("-1"), *parse_quantity("0")), 0);
  EXPECT_EQ(compare(*parse_quantity("-0"), *parse_quantity("0")), 0);
}

TEST(Quantity, SignAndWholeness) {
  EXPECT_TRUE(parse_quantity("-1")->negative);
  EXPECT_FALSE(parse_quantity("-0")->negative);
  EXPECT_TRUE(parse_quantity("2Ki")->is_integer());
  EXPECT_TRUE(parse_quantity("0.5Ki")->is_integer());
  EXPECT_FALSE(parse_quantity("1.5")->is_integer());
  EXPECT_FALSE(parse_quantity("1m")->is_integer());
}

TEST(Quantity, WhatTheParserRefuses) {
  for (const char* bad : {"", "lots", "1.2.3", "1K", "1Mi5", "1e", "1e+", "1ee5", "1 Gi", "Mi", ".",
                          "+", "-", "1m5", "0x10", "1,5", "١"}) {
    std::string why;
    EXPECT_FALSE(parse_quantity(bad, &why).has_value()) << bad;
    EXPECT_EQ(why, "is not a quantity") << bad;
  }
}

TEST(Quantity, BeyondWhatTheApiServerHoldsIsTooLarge) {
  std::string why;
  EXPECT_TRUE(parse_quantity("9223372036854775807").has_value());
  EXPECT_TRUE(parse_quantity("7Ei").has_value());
  for (const char* big : {"9223372036854775808", "8Ei", "1e400", "1e1000000000000"}) {
    EXPECT_FALSE(parse_quantity(big, &why).has_value()) << big;
    EXPECT_EQ(why, "is too large") << big;
  }
  EXPECT_EQ(nanos("1e-1000000000000"), 1u);
}

}  // namespace
}  // namespace kubefn::controller
