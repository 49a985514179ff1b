// End-to-end tests of the local platform's replica supervisor: real kubefn-runtime processes
// serving real functions, real HTTP, real signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "kubefn/platform/local/replica_supervisor.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::platform::local {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::http_request;
using testing::wait_until;

constexpr auto kLong = seconds(30);

ReplicaTemplate runtime_template(const std::string& so_path, const std::string& handler,
                                 const std::string& revision,
                                 std::map<std::string, std::string> env = {}) {
  ReplicaTemplate t;
  t.revision = revision;
  t.argv = {KUBEFN_RUNTIME_BIN};
  env["FUNC_HANDLER"] = handler;
  env["KUBEFN_FUNCTION_DIR"] = std::filesystem::path(so_path).parent_path().string();
  env["KUBEFN_THREADS"] = "1";
  t.env = std::move(env);
  return t;
}

ReplicaTemplate hello(const std::string& revision = "r1") {
  return runtime_template(KUBEFN_HELLO_SO, "hello.greet", revision);
}

ReplicaTemplate fixture(const std::string& revision, std::map<std::string, std::string> env = {}) {
  return runtime_template(KUBEFN_FIXTURE_SO, "platform_fixture.serve", revision, std::move(env));
}

// True while /proc knows the process (a zombie counts: it was not reaped).
bool process_exists(int pid) {
  return pid > 0 && std::filesystem::exists("/proc/" + std::to_string(pid));
}

struct Event {
  std::string id;
  ReplicaPhase phase;
  int pid;
  int restarts;
};

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorOptions options() {
    SupervisorOptions o;
    o.log_dir = dir_.path() / "logs";
    o.probe_interval = milliseconds(50);
    o.probe_timeout = milliseconds(1000);
    o.restart_backoff_base = milliseconds(200);
    o.restart_backoff_max = milliseconds(2000);
    o.stop_timeout = seconds(5);
    o.unroute_delay = milliseconds(200);
    return o;
  }

  void start(SupervisorOptions o) {
    sup_ = std::make_unique<ReplicaSupervisor>(std::move(o));
    ReplicaSupervisor* sup = sup_.get();  // sup_ is already null while it is destroyed
    sup->set_listener([this, sup](const FunctionKey& key) {
      std::lock_guard<std::mutex> lock(mu_);
      ++notifications_[key.str()];
      for (const auto& r : sup->replicas(key)) {
        auto& seq = events_[r.id];
        if (seq.empty() || seq.back().phase != r.phase || seq.back().pid != r.pid ||
            seq.back().restarts != r.restarts) {
          seq.push_back({r.id, r.phase, r.pid, r.restarts});
        }
      }
    });
  }

  void SetUp() override { start(options()); }
  void TearDown() override { sup_.reset(); }

  std::vector<ReplicaInfo> ready(const FunctionKey& key) {
    std::vector<ReplicaInfo> out;
    for (auto& r : sup_->replicas(key)) {
      if (r.phase == ReplicaPhase::kReady) out.push_back(r);
    }
    return out;
  }

  // Exactly `n` replicas, all ready (and of `revision` when given).
  bool all_ready(const FunctionKey& key, std::size_t n, const std::string& revision = {}) {
    auto all = sup_->replicas(key);
    if (all.size() != n) return false;
    return std::all_of(all.begin(), all.end(), [&](const ReplicaInfo& r) {
      return r.phase == ReplicaPhase::kReady && r.port != 0 &&
             (revision.empty() || r.revision == revision);
    });
  }

  std::vector<Event> events_of(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return events_[id];
  }

  // The function's one replica has been restarted at least once.
  bool restarted_once(const FunctionKey& key) {
    auto r = sup_->replicas(key);
    return r.size() == 1 && r[0].restarts >= 1;
  }

  std::string dump(const FunctionKey& key) {
    std::string out;
    for (auto& r : sup_->replicas(key)) {
      out += r.id + " " + std::string(to_string(r.phase)) + " pid=" + std::to_string(r.pid) +
             " port=" + std::to_string(r.port) + " rev=" + r.revision +
             " restarts=" + std::to_string(r.restarts) + " err=" + r.last_error + "\n";
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<ReplicaSupervisor> sup_;
  std::mutex mu_;
  std::map<std::string, int> notifications_;
  std::map<std::string, std::vector<Event>> events_;
};

TEST_F(SupervisorTest, TwoReplicasServeHttpOnTheirOwnPorts) {
  FunctionKey key{"default", "hello"};
  sup_->apply(key, hello(), 2);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 2); }, kLong)) << dump(key);
  auto reps = sup_->replicas(key);
  EXPECT_NE(reps[0].port, reps[1].port);
  EXPECT_NE(reps[0].pid, reps[1].pid);
  EXPECT_NE(reps[0].id, reps[1].id);
  for (const auto& r : reps) {
    EXPECT_EQ(r.revision, "r1");
    EXPECT_EQ(r.restarts, 0);
    EXPECT_TRUE(process_exists(r.pid));
    auto reply = http_request(r.port, "GET", "/?name=" + r.id);
    ASSERT_TRUE(reply) << r.id;
    EXPECT_EQ(reply->status, 200);
    EXPECT_EQ(reply->body, "hello " + r.id + "\n");
    // The replica's stdout and stderr go to its log file.
    EXPECT_NE(testing::read_file(r.log_path).find("\"msg\":\"listening\""), std::string::npos);
  }
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_GE(notifications_[key.str()], 2);
}

TEST_F(SupervisorTest, ScalesUpAndDownDrainingTheSurplus) {
  FunctionKey key{"default", "scale"};
  sup_->apply(key, hello(), 2);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 2); }, kLong)) << dump(key);
  auto two = sup_->replicas(key);

  sup_->apply(key, hello(), 3);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 3); }, kLong)) << dump(key);
  auto three = sup_->replicas(key);
  // Scaling up keeps the replicas that ran.
  for (const auto& r : two) {
    EXPECT_TRUE(std::any_of(three.begin(), three.end(),
                            [&](const ReplicaInfo& x) { return x.id == r.id && x.pid == r.pid; }));
  }

  sup_->apply(key, hello(), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 1); }, kLong)) << dump(key);
  auto one = sup_->replicas(key);
  std::set<int> gone;
  for (const auto& r : three) {
    if (r.id != one[0].id) gone.insert(r.pid);
  }
  EXPECT_EQ(gone.size(), 2u);
  for (int pid : gone)
    EXPECT_FALSE(process_exists(pid)) << pid;
  // The drained ones were stopped with SIGTERM (the runtime logs its drain), not killed.
  for (const auto& r : three) {
    if (r.id == one[0].id) continue;
    EXPECT_NE(testing::read_file(r.log_path).find("draining"), std::string::npos) << r.id;
    auto seq = events_of(r.id);
    ASSERT_FALSE(seq.empty());
    EXPECT_EQ(seq.back().phase, ReplicaPhase::kTerminating) << r.id;
  }
  auto reply = http_request(one[0].port, "GET", "/");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);

  sup_->apply(key, hello(), 0);
  ASSERT_TRUE(wait_until([&] { return sup_->replicas(key).empty(); }, kLong)) << dump(key);
  EXPECT_FALSE(process_exists(one[0].pid));
}

TEST_F(SupervisorTest, RevisionChangeUnderLoadLosesNoRequest) {
  sup_.reset();
  auto o = options();
  // Time for a request that picked a replica just before it left routing to reach it, even
  // on a loaded machine.
  o.unroute_delay = milliseconds(1000);
  start(o);
  FunctionKey key{"default", "roll"};
  sup_->apply(key, fixture("a", {{"FIXTURE_TAG", "a"}}), 2);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 2, "a"); }, kLong)) << dump(key);
  auto old_replicas = sup_->replicas(key);

  // A client that, like a router, sends each request to one of the replicas reported ready.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_a{0}, ok_b{0}, failed{0};
  std::mutex fail_mu;
  std::vector<std::string> failures;
  std::thread client([&] {
    auto give_up = std::chrono::steady_clock::now() + seconds(120);
    std::size_t next = 0;
    while (!stop && std::chrono::steady_clock::now() < give_up) {
      auto endpoints = ready(key);
      if (endpoints.empty()) {
        ++failed;
        std::lock_guard<std::mutex> l(fail_mu);
        failures.push_back("no ready endpoint");
        std::this_thread::yield();
        continue;
      }
      auto& r = endpoints[next++ % endpoints.size()];
      auto reply = http_request(r.port, "POST", "/", "hi", {}, seconds(10));
      if (reply && reply->status == 200 && reply->body.rfind("a ", 0) == 0) {
        ++ok_a;
      } else if (reply && reply->status == 200 && reply->body.rfind("b ", 0) == 0) {
        ++ok_b;
      } else {
        ++failed;
        std::lock_guard<std::mutex> l(fail_mu);
        failures.push_back(r.id + ": " + (reply ? std::to_string(reply->status) : "no reply"));
      }
    }
  });
  ASSERT_TRUE(wait_until([&] { return ok_a >= 20; }, kLong));
  sup_->apply(key, fixture("b", {{"FIXTURE_TAG", "b"}}), 2);
  bool rolled = wait_until([&] { return all_ready(key, 2, "b"); }, kLong);
  int b_after_roll = ok_b;
  bool served_b = wait_until([&] { return ok_b >= b_after_roll + 20; }, kLong);
  stop = true;
  client.join();
  ASSERT_TRUE(rolled) << dump(key);
  EXPECT_TRUE(served_b);
  EXPECT_EQ(failed.load(), 0) << (failures.empty() ? "" : failures.front());
  EXPECT_GE(ok_a.load(), 20);
  for (const auto& r : old_replicas)
    EXPECT_FALSE(process_exists(r.pid)) << r.id;
  for (const auto& r : sup_->replicas(key))
    EXPECT_EQ(r.restarts, 0);
}

TEST_F(SupervisorTest, CrashedReplicaIsRestartedAfterABackoff) {
  FunctionKey key{"default", "crashy"};
  sup_->apply(key, fixture("r1"), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 1); }, kLong)) << dump(key);
  auto first = sup_->replicas(key)[0];

  ASSERT_EQ(::kill(first.pid, SIGKILL), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = sup_->replicas(key);
        return r.size() == 1 && r[0].restarts == 1 && r[0].phase == ReplicaPhase::kReady;
      },
      kLong))
      << dump(key);
  auto second = sup_->replicas(key)[0];
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(second.pid, first.pid);
  EXPECT_FALSE(process_exists(first.pid));  // reaped
  EXPECT_NE(second.last_error.find("SIGKILL"), std::string::npos) << second.last_error;
  auto reply = http_request(second.port, "POST", "/", "hello");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "untagged " + std::to_string(second.pid));

  // The listener saw it ready, then waiting to restart with no process, then ready again.
  auto seq = events_of(first.id);
  auto at = [&](std::size_t from, auto pred) {
    for (std::size_t i = from; i < seq.size(); ++i) {
      if (pred(seq[i])) return i;
    }
    return seq.size();
  };
  std::size_t ready1 = at(0, [](const Event& e) { return e.phase == ReplicaPhase::kReady; });
  std::size_t waiting = at(ready1, [](const Event& e) {
    return e.phase == ReplicaPhase::kStarting && e.pid == 0 && e.restarts == 1;
  });
  std::size_t ready2 = at(waiting, [&](const Event& e) {
    return e.phase == ReplicaPhase::kReady && e.pid == second.pid;
  });
  EXPECT_LT(ready2, seq.size()) << "phases seen: " << seq.size();

  // A crash from inside a request is a restart too, with the reason.
  auto crash = http_request(second.port, "POST", "/", "abort", {}, seconds(10));
  EXPECT_FALSE(crash && crash->status == 200);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = sup_->replicas(key);
        return r.size() == 1 && r[0].restarts == 2 && r[0].phase == ReplicaPhase::kReady;
      },
      kLong))
      << dump(key);
  EXPECT_NE(sup_->replicas(key)[0].last_error.find("SIGABRT"), std::string::npos) << dump(key);
}

TEST_F(SupervisorTest, ReplicaThatKeepsCrashingIsReportedInCrashLoop) {
  sup_.reset();
  auto o = options();
  o.restart_backoff_base = milliseconds(50);
  o.restart_backoff_max = milliseconds(400);
  o.crash_loop_threshold = 3;
  start(o);
  FunctionKey key{"team", "doomed"};
  sup_->apply(key, fixture("r1", {{"FIXTURE_CRASH_AT_START", "1"}}), 1);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = sup_->replicas(key);
        return r.size() == 1 && r[0].phase == ReplicaPhase::kCrashLoop && r[0].restarts >= 3;
      },
      kLong))
      << dump(key);
  auto r = sup_->replicas(key)[0];
  EXPECT_NE(r.last_error.find("SIGABRT"), std::string::npos) << r.last_error;
  EXPECT_NE(r.last_error.find("crashing at start on request"), std::string::npos) << r.last_error;
  EXPECT_EQ(r.port, 0);

  // A fixed revision replaces the crash-looping replica.
  sup_->apply(key, fixture("r2"), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 1, "r2"); }, kLong)) << dump(key);
  EXPECT_EQ(sup_->replicas(key)[0].restarts, 0);
}

TEST_F(SupervisorTest, ProgramThatCannotRunIsReportedWithItsError) {
  FunctionKey key{"default", "broken"};
  ReplicaTemplate t = hello();
  t.argv = {"/nonexistent/kubefn-runtime"};
  sup_->apply(key, t, 1);
  ASSERT_TRUE(wait_until([&] { return restarted_once(key); }, kLong)) << dump(key);
  auto r = sup_->replicas(key)[0];
  EXPECT_NE(r.last_error.find("exited with code 127"), std::string::npos) << r.last_error;
  EXPECT_NE(r.last_error.find("/nonexistent/kubefn-runtime"), std::string::npos) << r.last_error;
  EXPECT_NE(r.phase, ReplicaPhase::kReady);
}

TEST_F(SupervisorTest, ReplicaThatNeverListensIsRestartedAfterTheStartTimeout) {
  sup_.reset();
  auto o = options();
  o.start_timeout = milliseconds(1500);
  start(o);
  FunctionKey key{"default", "hangs"};
  sup_->apply(key, fixture("r1", {{"FIXTURE_HANG_AT_START", "1"}}), 1);
  ASSERT_TRUE(wait_until([&] { return restarted_once(key); }, kLong)) << dump(key);
  auto r = sup_->replicas(key)[0];
  EXPECT_NE(r.last_error.find("not ready within 1500 ms"), std::string::npos) << r.last_error;
  EXPECT_NE(r.last_error.find("hanging at start"), std::string::npos) << r.last_error;
  EXPECT_NE(r.phase, ReplicaPhase::kReady);
}

TEST_F(SupervisorTest, StoppedReplicaTurnsUnreadyThenIsRestarted) {
  sup_.reset();
  auto o = options();
  o.probe_timeout = milliseconds(300);
  o.liveness_failure_threshold = 3;
  start(o);
  FunctionKey key{"default", "frozen"};
  sup_->apply(key, fixture("r1"), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 1); }, kLong)) << dump(key);
  auto first = sup_->replicas(key)[0];
  // A stopped process accepts connections (the kernel does) but never answers.
  ASSERT_EQ(::kill(first.pid, SIGSTOP), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        auto r = sup_->replicas(key);
        return r.size() == 1 && r[0].restarts == 1 && r[0].phase == ReplicaPhase::kReady;
      },
      kLong))
      << dump(key);
  auto now = sup_->replicas(key)[0];
  EXPECT_NE(now.pid, first.pid);
  EXPECT_NE(now.last_error.find("liveness probe failed 3 times"), std::string::npos)
      << now.last_error;
  EXPECT_FALSE(process_exists(first.pid));
  auto seq = events_of(first.id);
  bool saw_unready = std::any_of(seq.begin(), seq.end(), [&](const Event& e) {
    return e.phase == ReplicaPhase::kUnready && e.pid == first.pid;
  });
  EXPECT_TRUE(saw_unready);
}

TEST_F(SupervisorTest, RemoveStopsEveryProcessBeforeReturning) {
  FunctionKey key{"default", "gone"};
  FunctionKey other{"other", "stays"};
  sup_->apply(key, hello(), 3);
  sup_->apply(other, hello(), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 3) && all_ready(other, 1); }, kLong))
      << dump(key) << dump(other);
  auto reps = sup_->replicas(key);
  sup_->remove(key);
  EXPECT_TRUE(sup_->replicas(key).empty());
  for (const auto& r : reps) {
    EXPECT_FALSE(process_exists(r.pid)) << r.id;
    EXPECT_NE(testing::read_file(r.log_path).find("draining"), std::string::npos) << r.id;
  }
  // Other functions are untouched.
  ASSERT_TRUE(all_ready(other, 1)) << dump(other);
  auto reply = http_request(sup_->replicas(other)[0].port, "GET", "/");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  sup_->remove(key);  // removing what is gone is a no-op
}

TEST_F(SupervisorTest, DestructorLeavesNoProcesses) {
  FunctionKey a{"default", "a"};
  FunctionKey b{"default", "b"};
  sup_->apply(a, hello(), 2);
  sup_->apply(b, fixture("r1", {{"FIXTURE_CRASH_AT_START", "1"}}), 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(a, 2); }, kLong)) << dump(a);
  std::vector<int> pids;
  for (const auto& r : sup_->replicas(a))
    pids.push_back(r.pid);
  sup_.reset();
  for (int pid : pids)
    EXPECT_FALSE(process_exists(pid)) << pid;
}

// Container mode needs a built function image: given by KUBEFN_TEST_FUNCTION_IMAGE (an image
// whose entrypoint is kubefn-runtime and that holds hello.so) when one exists.
TEST_F(SupervisorTest, ContainerReplicaServesAndIsRemoved) {
  const char* image = std::getenv("KUBEFN_TEST_FUNCTION_IMAGE");
  if (image == nullptr || *image == '\0') GTEST_SKIP() << "KUBEFN_TEST_FUNCTION_IMAGE is not set";
  if (testing::run_command({"podman", "--version"}, {}, seconds(30)).exit_code != 0) {
    GTEST_SKIP() << "podman is not available";
  }
  FunctionKey key{"default", "boxed"};
  ReplicaTemplate t;
  t.revision = "c1";
  t.env = {{"FUNC_HANDLER", "hello.greet"}};
  t.container = ContainerSpec{image, {}};
  sup_->apply(key, t, 1);
  ASSERT_TRUE(wait_until([&] { return all_ready(key, 1); }, seconds(120))) << dump(key);
  auto r = sup_->replicas(key)[0];
  auto reply = http_request(r.port, "GET", "/?name=box");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello box\n");
  sup_->remove(key);
  // podman stop sent SIGTERM into the container: the runtime drained.
  EXPECT_NE(testing::read_file(r.log_path).find("draining"), std::string::npos);
  auto ps = testing::run_command({"podman", "ps", "-a", "--format", "{{.Names}}"}, {}, seconds(60));
  EXPECT_EQ(ps.out.find("kubefn-" + std::to_string(::getpid()) + "-"), std::string::npos) << ps.out;
}

}  // namespace
}  // namespace kubefn::platform::local
