// The local platform's builds: a few build threads take every build in turn, so a long-running
// `kubefn up` keeps no thread per finished build; stop() joins them all.
#include "kubefn/platform/local/local_platform.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "kubefn/controller/object_reader.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::platform::local {
namespace {

using std::chrono::seconds;

class NoEvents final : public controller::EventRecorder {
 public:
  void record(const nlohmann::json&, const std::string&, const std::string&,
              const std::string&) override {}
};

class NoObjects final : public controller::ObjectReader {
 public:
  kube::Result<nlohmann::json> get(const kube::ObjectRef&) override {
    return kube::Status(kube::StatusCode::kNotFound, "none");
  }
  kube::Result<std::vector<nlohmann::json>> list_owned(const kube::GroupVersionResource&,
                                                       const std::string&,
                                                       const std::string&) override {
    return std::vector<nlohmann::json>{};
  }
};

class LocalPlatformBuilds : public ::testing::Test {
 protected:
  LocalPlatformBuilds() : supervisor_(supervisor_options()) {}

  SupervisorOptions supervisor_options() const {
    SupervisorOptions o;
    o.log_dir = dir_.path() / "logs";
    return o;
  }

  std::unique_ptr<LocalPlatform> platform(int workers) {
    LocalPlatformOptions o;
    o.state_dir = dir_.path();
    o.build_workers = workers;
    auto p = std::make_unique<LocalPlatform>(o, supervisor_, routes_);
    p->set_requeue([this](const std::string&, const std::string&) { ++requeued_; });
    return p;
  }

  // Builds function f<i> from a source the compiler refuses at once.
  controller::BuildOutcome build(LocalPlatform& p, int i) {
    controller::FunctionSpec spec;
    spec.ns = "t";
    spec.name = "f" + std::to_string(i);
    spec.module = "fn";
    spec.handler_name = "handle";
    const std::string source = "#error build " + std::to_string(i) + "\n";
    const std::string digest = std::string(60, '0') + std::to_string(1000 + i);
    const nlohmann::json fn = {{"metadata", {{"name", spec.name}, {"namespace", spec.ns}}}};
    controller::WriteCounts writes;
    return p.build({fn, spec, source, digest, events_, writes, reader_});
  }

  testing::TempDir dir_;
  ReplicaSupervisor supervisor_;
  gateway::RouteTable routes_;
  NoEvents events_;
  NoObjects reader_;
  std::atomic<int> requeued_{0};
};

TEST_F(LocalPlatformBuilds, ManyBuildsUseAtMostTheWorkersThreads) {
  auto p = platform(2);
  constexpr int kBuilds = 8;
  for (int i = 0; i < kBuilds; ++i) {
    const auto out = build(*p, i);
    EXPECT_EQ(out.step.state, controller::StepOutcome::State::kWaiting);
    EXPECT_EQ(out.step.reason, "Building");
    EXPECT_LE(p->build_threads(), 2u);
  }
  // Every build finishes (and says so) through the same two threads.
  ASSERT_TRUE(testing::wait_until([&] { return requeued_ >= kBuilds; }, seconds(120)))
      << requeued_ << " of " << kBuilds << " builds finished";
  EXPECT_LE(p->build_threads(), 2u);
  for (int i = 0; i < kBuilds; ++i) {
    const auto out = build(*p, i);
    EXPECT_EQ(out.step.state, controller::StepOutcome::State::kFailed) << i;
    EXPECT_EQ(out.step.reason, "BuildFailed") << i;
    EXPECT_NE(out.step.message.find("build " + std::to_string(i)), std::string::npos)
        << out.step.message;
  }
  // A later build reuses a waiting thread.
  build(*p, kBuilds);
  EXPECT_LE(p->build_threads(), 2u);
  p->stop();
  EXPECT_EQ(p->build_threads(), 0u);
}

TEST_F(LocalPlatformBuilds, StopJoinsTheThreadsAndDropsQueuedBuilds) {
  auto p = platform(1);
  for (int i = 0; i < 5; ++i)
    build(*p, i);
  EXPECT_EQ(p->build_threads(), 1u);
  p->stop();
  EXPECT_EQ(p->build_threads(), 0u);
  const int told = requeued_;
  const auto after = build(*p, 9);
  EXPECT_EQ(after.step.state, controller::StepOutcome::State::kWaiting);
  EXPECT_EQ(after.step.message, "the platform is stopping");
  EXPECT_EQ(p->build_threads(), 0u);
  EXPECT_EQ(requeued_, told);  // nothing calls back after stop()
}

}  // namespace
}  // namespace kubefn::platform::local
