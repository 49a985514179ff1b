#include "kubefn/telemetry/json_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace kubefn::telemetry {
namespace {

TEST(JsonLog, JsonStringEscaping) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01") + "\x7f");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(JsonLog, LineWriterBuffersUntilFlush) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    LineWriter w(fds[1], 1 << 20);
    w.append("{\"a\":1}\n");
    char buf[64];
    // Nothing written yet: a non-blocking read finds the pipe empty.
    ASSERT_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    EXPECT_EQ(read(fds[0], buf, sizeof buf), -1);
    w.flush();
    ssize_t n = read(fds[0], buf, sizeof buf);
    ASSERT_EQ(n, 8);
    EXPECT_EQ(std::string(buf, 8), "{\"a\":1}\n");
  }
  close(fds[0]);
  close(fds[1]);
}

TEST(JsonLog, EventLinesCarryTimeLevelMessageAndFields) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    LineWriter w(fds[1], 1 << 20);
    log_event(w, "error", "reconcile \"failed\"", ",\"function\":\"default/hello\"");
  }
  char buf[512];
  ssize_t n = read(fds[0], buf, sizeof buf);
  ASSERT_GT(n, 0);
  std::string line(buf, static_cast<std::size_t>(n));
  ASSERT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["msg"], "reconcile \"failed\"");
  EXPECT_EQ(j["function"], "default/hello");
  EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z');
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace kubefn::telemetry
