#include "kubefn/builder/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>

#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::builder {
namespace {

// Whether a process of group `group` still runs (a zombie waiting for its reaper does not).
bool group_running(pid_t group) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == group && state != "Z" && state != "X") return true;
  }
  return false;
}

TEST(RunProcess, CapturesBothStreamsAndTheExitCode) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunProcess, RunsInTheDirectoryWithTheExtraEnvironment) {
  testing::TempDir dir;
  auto r = run_process({"sh", "-c", "pwd; echo $KUBEFN_TEST_VALUE"}, dir.path().string(),
                       {"KUBEFN_TEST_VALUE=42"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, dir.path().string() + "\n42\n");
}

TEST(RunProcess, LargeOutputOnBothStreamsDoesNotDeadlock) {
  auto r = run_process({"sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 300000u);
  EXPECT_EQ(r.err.size(), 300000u);
}

TEST(RunProcess, MissingProgramIs127AndSignalsAre128Plus) {
  EXPECT_EQ(run_process({"kubefn-no-such-program"}).exit_code, 127);
  EXPECT_EQ(run_process({"sh", "-c", "kill -TERM $$"}).exit_code, 128 + 15);
}

TEST(RunProcess, CancelKillsTheProgramAndWhatItStarted) {
  testing::TempDir dir;
  const std::string pids = dir.file("pids");
  Cancellation cancel;
  // A program that starts a child of its own (as g++ starts cc1plus), says both pids, waits.
  auto running = std::async(std::launch::async, [&] {
    return run_process(
        {"sh", "-c",
         "sleep 60 & echo $$ $! > " + pids + ".tmp; mv " + pids + ".tmp " + pids + "; wait"},
        {}, {}, &cancel);
  });
  ASSERT_TRUE(
      testing::wait_until([&] { return std::filesystem::exists(pids); }, std::chrono::seconds(10)));
  pid_t shell = 0, child = 0;
  std::istringstream(testing::read_file(pids)) >> shell >> child;
  ASSERT_GT(shell, 0);
  ASSERT_GT(child, 0);
  ASSERT_TRUE(group_running(shell));
  EXPECT_FALSE(cancel.cancelled());
  cancel.cancel();
  EXPECT_TRUE(cancel.cancelled());
  ASSERT_EQ(running.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "run_process did not return once cancelled";
  EXPECT_EQ(running.get().exit_code, 128 + SIGKILL);
  // The whole group went: the shell and the sleep it started.
  EXPECT_TRUE(testing::wait_until([&] { return !group_running(shell); }, std::chrono::seconds(10)));
}

TEST(RunProcess, NothingStartsOnceCancelled) {
  testing::TempDir dir;
  Cancellation cancel;
  cancel.cancel();
  auto r = run_process({"touch", dir.file("ran")}, {}, {}, &cancel);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_FALSE(std::filesystem::exists(dir.file("ran")));
  // Without one, or with one not cancelled, programs run as before.
  Cancellation idle;
  EXPECT_EQ(run_process({"sh", "-c", "exit 4"}, {}, {}, &idle).exit_code, 4);
}

}  // namespace
}  // namespace kubefn::builder
