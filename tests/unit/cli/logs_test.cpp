#include "kubefn/cli/logs.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::cli {
namespace {

void append(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

TEST(Logs, TailPerReplicaInReplicaOrder) {
  testing::TempDir dir;
  dir.write("r2.log", "b1\nb2\nb3\n");
  dir.write("r1.log", "a1\na2\n");
  dir.write("ignored.txt", "x\n");
  auto all = read_local_logs(dir.path(), -1);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].replica, "r1");
  EXPECT_EQ(all[0].text, "a1");
  EXPECT_EQ(all[4].text, "b3");
  auto tail = read_local_logs(dir.path(), 1);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].text, "a2");
  EXPECT_EQ(tail[1].text, "b3");
  EXPECT_TRUE(read_local_logs(dir.path(), 0).empty());
  EXPECT_TRUE(read_local_logs(dir.path() / "missing", -1).empty());
}

TEST(Logs, FollowerSeesAppendedLinesNewReplicasAndWaitsForWholeLines) {
  testing::TempDir dir;
  const auto r1 = dir.write("r1.log", "old\n");
  LocalLogFollower follower(dir.path());
  EXPECT_TRUE(follower.poll().empty());  // starts at the end

  append(r1, "new 1\npart");
  auto lines = follower.poll();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "new 1");

  append(r1, "ial\n");
  dir.write("r2.log", "second replica\n");
  lines = follower.poll();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(format_log_line(lines[0], true), "[r1] partial");
  EXPECT_EQ(format_log_line(lines[1], false), "second replica");

  // A replaced (shorter) file is read again from its start.
  dir.write("r1.log", "fresh\n");
  lines = follower.poll();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "fresh");
}

TEST(Logs, FollowerOfADirectoryThatAppearsLater) {
  testing::TempDir dir;
  LocalLogFollower follower(dir.path() / "default" / "hello");
  EXPECT_TRUE(follower.poll().empty());
  dir.write("default/hello/r9.log", "up\n");
  auto lines = follower.poll();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].replica, "r9");
}

}  // namespace
}  // namespace kubefn::cli
