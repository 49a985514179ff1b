#include "metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace kubefn::runtime {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, CallsFailuresAndDurationsByMethod) {
  RuntimeMetrics m;
  m.record_call("GET", 0.0002, false, 200);
  m.record_call("GET", 0.003, true, 500);
  m.record_call("BREW", 1.0, false, 200);  // unknown methods share one label value
  m.record_rejected(413);
  m.add_busy_seconds(0.5);
  std::string text = m.serialize();
  EXPECT_TRUE(has_line(text, "function_calls_total{method=\"GET\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "function_failures_total{method=\"GET\"} 1"));
  EXPECT_TRUE(has_line(text, "function_calls_total{method=\"OTHER\"} 1"));
  EXPECT_TRUE(has_line(text, "function_duration_seconds_count{method=\"GET\"} 2"));
  EXPECT_TRUE(has_line(text, "function_duration_seconds_bucket{method=\"GET\",le=\"0.00025\"} 1"));
  EXPECT_TRUE(has_line(text, "kubefn_runtime_responses_total{code=\"5xx\"} 1"));
  EXPECT_TRUE(has_line(text, "kubefn_runtime_rejected_requests_total{code=\"413\"} 1"));
  EXPECT_TRUE(has_line(text, "kubefn_runtime_busy_seconds_total 0.5"));
  EXPECT_NE(text.find("# TYPE function_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("process_resident_memory_bytes "), std::string::npos);
}

}  // namespace
}  // namespace kubefn::runtime
