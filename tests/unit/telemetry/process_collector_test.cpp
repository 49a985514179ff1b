#include "kubefn/telemetry/process_collector.hpp"

#include <gtest/gtest.h>

namespace kubefn::telemetry {
namespace {

TEST(ProcessCollector, ReadsThisProcess) {
  auto s = read_process_sample();
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->resident_bytes, 1024u * 1024);
  EXPECT_GE(s->virtual_bytes, s->resident_bytes);
  EXPECT_GE(s->open_fds, 3u);
  EXPECT_GE(s->threads, 1u);
  EXPECT_GT(s->start_time_seconds, 1.6e9);
}

TEST(ProcessCollector, MissingProcIsNoSample) {
  EXPECT_FALSE(read_process_sample("/proc/no-such-process").has_value());
}

}  // namespace
}  // namespace kubefn::telemetry
