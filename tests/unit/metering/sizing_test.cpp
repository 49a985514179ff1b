// A function's size from its resources, quantities, and the rule both platforms split a
// replica's time and usage by.
#include "kubefn/metering/sizing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace kubefn::metering {
namespace {

TEST(Sizing, RequestsDefaultToLimitsAndBadQuantitiesAreAbsent) {
  auto size = replica_size(nlohmann::json::parse(
      R"({"limits": {"memory": "256Mi", "cpu": "2"}, "requests": {"cpu": "500m"}})"));
  EXPECT_EQ(size.memory_limit_bytes, 256LL << 20);
  EXPECT_EQ(size.memory_request_bytes, 256LL << 20);
  EXPECT_DOUBLE_EQ(size.cpu_request_cores, 0.5);
  size = replica_size(nlohmann::json::parse(R"({"limits": {"memory": "lots"}})"));
  EXPECT_EQ(size.memory_limit_bytes, 0);
  size = replica_size(nlohmann::json::object());
  EXPECT_EQ(size.memory_limit_bytes, 0);
  EXPECT_EQ(size.cpu_request_cores, 0);
  EXPECT_EQ(parse_quantity("1Gi"), 1073741824.0);
  EXPECT_EQ(parse_quantity("1.5"), 1.5);
  EXPECT_EQ(parse_quantity("2e3"), 2000.0);
  EXPECT_EQ(parse_quantity("1G"), 1e9);
  EXPECT_EQ(parse_quantity("-1"), std::nullopt);
  EXPECT_EQ(parse_quantity("Mi"), std::nullopt);
}

TEST(Sizing, ASliceSplitsByReadinessAndBusyTimeAtMaxOfRequestAndUsage) {
  ReplicaSize half_core;  // 0.5 cores and 256 MiB requested
  half_core.cpu_request_cores = 0.5;
  half_core.memory_request_bytes = 256LL << 20;
  const ReplicaSize none;
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  struct Row {
    const char* what;
    ReplicaSlice slice;
    ReplicaSize size;
    ReplicaUsage want;
  };
  const std::vector<Row> rows = {
      {"starting, no usage: requests only", {false, 4, 0, 0, 0}, half_core, {4, 0, 0, 2, 1}},
      {"starting with a call (probed ready early)",
       {false, 2, 0.5, 0, 0},
       none,
       {1.5, 0.5, 0, 0, 0}},
      {"ready and idle", {true, 2, 0, 0, 0}, none, {0, 0, 2, 0, 0}},
      {"ready, busy part of it", {true, 10, 3, 0, 0}, half_core, {0, 3, 7, 5, 2.5}},
      {"busy clamped to the stretch", {true, 2, 5, 0, 0}, half_core, {0, 2, 0, 1, 0.5}},
      {"CPU used above the request", {true, 10, 0, 8, 0}, half_core, {0, 0, 10, 8, 2.5}},
      {"CPU used below the request", {true, 2, 0, 0.2, 0}, half_core, {0, 0, 2, 1, 0.5}},
      {"memory resident above the request", {true, 10, 0, 0, kGiB}, half_core, {0, 0, 10, 5, 10}},
      {"no requests: usage alone", {true, 2, 0, 0.1, 512 << 20}, none, {0, 0, 2, 0.1, 1}},
      {"an empty stretch is nothing", {true, 0, 1, 1, 1}, half_core, {0, 0, 0, 0, 0}},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.what);
    const ReplicaUsage u = usage_of(r.slice, r.size);
    EXPECT_NEAR(u.starting_seconds, r.want.starting_seconds, 1e-12);
    EXPECT_NEAR(u.busy_seconds, r.want.busy_seconds, 1e-12);
    EXPECT_NEAR(u.idle_seconds, r.want.idle_seconds, 1e-12);
    EXPECT_NEAR(u.cpu_core_seconds, r.want.cpu_core_seconds, 1e-12);
    EXPECT_NEAR(u.memory_gb_seconds, r.want.memory_gb_seconds, 1e-12);
  }
}

}  // namespace
}  // namespace kubefn::metering
