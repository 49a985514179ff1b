// Unit tests of `kubefn up`'s parts: the replicas' metrics merged into its metrics endpoint,
// the platform token, and the state file the CLI finds it by.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/testing/temp_dir.hpp"
#include "platform_token.hpp"
#include "replica_metrics.hpp"
#include "up_state.hpp"

namespace kubefn::platform::local::detail {
namespace {

TEST(ReplicaMetrics, LabelsEverySampleAndMergesFamilies) {
  const std::string page =
      "# HELP function_calls_total Calls.\n"
      "# TYPE function_calls_total counter\n"
      "function_calls_total{method=\"GET\"} 3\n"
      "function_calls_total{} 1\n"
      "\n"
      "# a comment that is neither HELP nor TYPE\n"
      "# TYPE process_open_fds gauge\n"
      "process_open_fds 12\n";
  const std::string other =
      "# HELP function_calls_total Calls.\n"
      "# TYPE function_calls_total counter\n"
      "function_calls_total{method=\"POST\"} 5\n"
      "kubefn_runtime_up 1\n";  // no HELP or TYPE: a family of its own, not function_calls
  const std::string merged = merge_replica_metrics(
      {{"default", "hello", "hello-1", page}, {"team", "echo", "e-1", other}});
  EXPECT_EQ(merged,
            "# HELP function_calls_total Calls.\n"
            "# TYPE function_calls_total counter\n"
            "function_calls_total{namespace=\"default\",function=\"hello\",replica=\"hello-1\","
            "method=\"GET\"} 3\n"
            "function_calls_total{namespace=\"default\",function=\"hello\",replica=\"hello-1\"} 1\n"
            "function_calls_total{namespace=\"team\",function=\"echo\",replica=\"e-1\","
            "method=\"POST\"} 5\n"
            "# TYPE process_open_fds gauge\n"
            "process_open_fds{namespace=\"default\",function=\"hello\",replica=\"hello-1\"} 12\n"
            "kubefn_runtime_up{namespace=\"team\",function=\"echo\",replica=\"e-1\"} 1\n");
}

TEST(ReplicaMetrics, KeepsAHistogramsSeriesTogether) {
  const std::string page =
      "# TYPE d histogram\n"
      "d_bucket{le=\"1\"} 2\n"
      "d_sum 0.5\n"
      "d_count 2\n";
  EXPECT_EQ(merge_replica_metrics({{"n", "a", "a-1", page}, {"n", "b", "b-1", page}}),
            "# TYPE d histogram\n"
            "d_bucket{namespace=\"n\",function=\"a\",replica=\"a-1\",le=\"1\"} 2\n"
            "d_sum{namespace=\"n\",function=\"a\",replica=\"a-1\"} 0.5\n"
            "d_count{namespace=\"n\",function=\"a\",replica=\"a-1\"} 2\n"
            "d_bucket{namespace=\"n\",function=\"b\",replica=\"b-1\",le=\"1\"} 2\n"
            "d_sum{namespace=\"n\",function=\"b\",replica=\"b-1\"} 0.5\n"
            "d_count{namespace=\"n\",function=\"b\",replica=\"b-1\"} 2\n");
}

TEST(ReplicaMetrics, EscapesLabelValuesAndSkipsLinesWithoutAValue) {
  const std::string merged =
      merge_replica_metrics({{"ns", "a\"b\\c", "r\n1", "# TYPE x gauge\nx 1\nbroken\n"}});
  EXPECT_EQ(merged,
            "# TYPE x gauge\n"
            "x{namespace=\"ns\",function=\"a\\\"b\\\\c\",replica=\"r\\n1\"} 1\n");
  EXPECT_EQ(merge_replica_metrics({}), "");
  EXPECT_EQ(merge_replica_metrics({{"ns", "f", "r", ""}}), "");  // a replica that did not answer
}

TEST(PlatformToken, IsMadePrivateAndKept) {
  testing::TempDir dir;
  const auto path = dir.path() / "token";
  std::ostringstream err;
  auto made = platform_token(path, err);
  ASSERT_TRUE(made.ok()) << made.status().message();
  EXPECT_EQ(made->size(), 32u);
  EXPECT_EQ(made->find_first_not_of("0123456789abcdef"), std::string::npos) << *made;
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(testing::read_file(path.string()), *made + "\n");

  auto again = platform_token(path, err);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *made);
  EXPECT_EQ(err.str(), "");
}

TEST(PlatformToken, TakesTheFirstTokenLineAndMakesAReadableFilePrivate) {
  testing::TempDir dir;
  const auto path = dir.write("token", "# the platform's\n\nmy-token  \r\nsecond\n");
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  std::ostringstream err;
  auto token = platform_token(path, err);
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, "my-token");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(err.str().find("was readable by others; it is now 0600"), std::string::npos)
      << err.str();
}

TEST(PrivateFile, ReplacesAWholeFileAndNeverWritesThroughALink) {
  testing::TempDir dir;
  const auto path = dir.path() / "kubeconfig";
  ASSERT_TRUE(write_private_file(path, "one\n").ok());
  ASSERT_TRUE(write_private_file(path, "two\n").ok());
  EXPECT_EQ(testing::read_file(path.string()), "two\n");
  // A link planted where the file is made aside is replaced, not followed.
  const auto target = dir.write("elsewhere", "untouched\n");
  ASSERT_EQ(::symlink(target.c_str(), (path.string() + ".tmp").c_str()), 0);
  ASSERT_TRUE(write_private_file(path, "three\n").ok());
  EXPECT_EQ(testing::read_file(path.string()), "three\n");
  EXPECT_EQ(testing::read_file(target.string()), "untouched\n");
  EXPECT_FALSE(write_private_file(dir.path() / "missing" / "file", "x").ok());
}

TEST(UpState, NamesALiveProcessOnly) {
  testing::TempDir dir;
  const auto path = dir.path() / "up.json";
  EXPECT_EQ(running_pid(path), 0);  // no file
  write_state(path, {::getpid(), "https://127.0.0.1:1", "/k", "http://127.0.0.1:2",
                     "http://127.0.0.1:3", "/logs"});
  EXPECT_EQ(running_pid(path), ::getpid());
  const auto state = nlohmann::json::parse(testing::read_file(path.string()));
  EXPECT_EQ(state, nlohmann::json({{"pid", ::getpid()},
                                   {"api", "https://127.0.0.1:1"},
                                   {"kubeconfig", "/k"},
                                   {"gateway", "http://127.0.0.1:2"},
                                   {"metrics", "http://127.0.0.1:3"},
                                   {"logs", "/logs"}}));

  // A process that is gone (reaped, so its pid names nothing).
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  write_state(path, {child, "", "", "", "", ""});
  EXPECT_EQ(running_pid(path), 0);

  for (const char* text : {"not json", "[1]", "{\"pid\": \"12\"}", "{\"pid\": -1}", "{}"}) {
    testing::write_file(path.string(), text);
    EXPECT_EQ(running_pid(path), 0) << text;
  }
}

TEST(UpState, KubeconfigQuotesWhatItHolds) {
  const std::string text = kubeconfig_text("https://127.0.0.1:6443", "CA", "to\"ken: yes");
  EXPECT_NE(text.find("server: \"https://127.0.0.1:6443\""), std::string::npos) << text;
  EXPECT_NE(text.find("certificate-authority-data: Q0E="), std::string::npos) << text;
  EXPECT_NE(text.find("token: \"to\\\"ken: yes\""), std::string::npos) << text;
  EXPECT_NE(text.find("current-context: kubefn-up"), std::string::npos) << text;
}

}  // namespace
}  // namespace kubefn::platform::local::detail
