#include "kubefn/build/process.hpp"

#include <gtest/gtest.h>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::build {
namespace {

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

}  // namespace
}  // namespace kubefn::build
