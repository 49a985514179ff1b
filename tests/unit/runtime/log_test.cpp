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

}  // namespace
}  // namespace kubefn::runtime
