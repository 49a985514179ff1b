#include "log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace kubefn::runtime {
namespace {

TEST(Log, EventLinesAreJson) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    telemetry::LineWriter w(fds[1], 0);
    FunctionLogger logger(w, "fn", "id-1");
    logger.warn("disk \"full\"");
  }
  char buf[512];
  ssize_t n = read(fds[0], buf, sizeof buf);
  ASSERT_GT(n, 0);
  auto j = nlohmann::json::parse(std::string(buf, static_cast<std::size_t>(n)));
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "disk \"full\"");
  EXPECT_EQ(j["function"], "fn");
  EXPECT_EQ(j["event_id"], "id-1");
  EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z');
  close(fds[0]);
  close(fds[1]);
}

TEST(Log, AccessLinesAreJsonWithTheCallsFields) {
  const std::string line = access_line("fn", "POST", "/a\"b", 201, 12, 34, 5678000, "id-2");
  ASSERT_EQ(line.back(), '\n');
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "request");
  EXPECT_EQ(j["function"], "fn");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/a\"b");
  EXPECT_EQ(j["status"], 201);
  EXPECT_EQ(j["bytes_in"], 12);
  EXPECT_EQ(j["bytes_out"], 34);
  EXPECT_EQ(j["duration_us"], 5678);
  EXPECT_EQ(j["event_id"], "id-2");
  EXPECT_EQ(j["ts"].get<std::string>().back(), 'Z');
  // A refused request has no event id: the field is left out.
  EXPECT_FALSE(
      nlohmann::json::parse(access_line("fn", "GET", "/", 400, 0, 12, 0, {})).contains("event_id"));
}

}  // namespace
}  // namespace kubefn::runtime
