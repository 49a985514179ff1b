// What the controller makes of a failed reconcile, on an in-memory API and a FakePlatform that
// refuses: every failure is one JSON log line naming the Function and the error, one count of
// controller_runtime_reconcile_errors_total, and one Warning Event on the Function (but for a
// lost optimistic-concurrency race).
#include "kubefn/controller/function_controller.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "kubefn/api/function.hpp"
#include "kubefn/testing/fakes/captured_log.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/fake_platform.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::controller {
namespace {

using ::kubefn::testing::CapturedLog;
using ::kubefn::testing::FakeKubeClient;
using ::kubefn::testing::FakePlatform;
using ::kubefn::testing::RecordedEvent;
using ::kubefn::testing::RecordingEvents;
using ::kubefn::testing::wait_until;
using nlohmann::json;
using namespace std::chrono_literals;

class NoFetches final : public SourceFetcher {
 public:
  FetchResult fetch(const std::string& url) override {
    return {FetchResult::Error::kUnavailable, {}, "no network in unit tests: " + url};
  }
};

json function(const std::string& name, json metadata = json::object()) {
  json fn = {{"apiVersion", api::kApiVersion},
             {"kind", api::kKind},
             {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "uid-" + name}}},
             {"spec", {{"handler", "fn.run"}, {"image", "registry.test/fn:1"}}}};
  fn["metadata"].merge_patch(metadata);
  return fn;
}

double counter(prometheus::Registry& registry, const std::string& name) {
  double n = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric)
      n += m.counter.value;
  }
  return n;
}

// A controller over the fakes, failing reconciles left to the test to cause.
struct Harness {
  FakeKubeClient client;
  kube::RealClock clock;
  RecordingEvents events;
  FakePlatform platform;
  NoFetches fetcher;
  UrlSources sources{fetcher};
  CapturedLog log;
  prometheus::Registry registry;
  std::unique_ptr<FunctionController> controller;

  void start() {
    ControllerOptions options;
    options.workers = 1;
    options.log = &log.writer();
    controller = std::make_unique<FunctionController>(client, clock, events, registry, platform,
                                                      sources, options);
    controller->start();
  }
  // The reconcile got as far as writing the Function's status.
  bool has_conditions(const std::string& name) {
    auto fn = client.peek({api::functions(), "default", name});
    return fn && fn->value("status", json::object()).contains("conditions");
  }
  std::vector<RecordedEvent> reconcile_errors() const {
    std::vector<RecordedEvent> out;
    for (const auto& e : events.events()) {
      if (e.reason == "ReconcileError") out.push_back(e);
    }
    return out;
  }
};

TEST(FunctionControllerFailures, AnApiErrorIsLoggedCountedAndRecordedOncePerFailure) {
  Harness h;
  h.client.put_object(api::functions(), function("fn"));
  const std::string refusal =
      "deployments.apps is forbidden: User \"system:serviceaccount:kubefn-system:kubefn-operator\" "
      "cannot create resource \"deployments\"";
  h.platform.answer_prepare(
      StepOutcome::api_error(kube::Status(kube::StatusCode::kForbidden, refusal)));
  h.start();
  // Retried with backoff: wait for a few failures, then stop so none is half reported.
  ASSERT_TRUE(wait_until([&] { return h.reconcile_errors().size() >= 3; }, 10s))
      << h.events.summary().size();
  h.controller->stop();

  const auto errors = h.reconcile_errors();
  const auto lines = h.log.lines();
  EXPECT_EQ(lines.size(), errors.size()) << "one log line per failure";
  EXPECT_EQ(counter(h.registry, "controller_runtime_reconcile_errors_total"),
            static_cast<double>(errors.size()));
  for (const auto& e : errors) {
    EXPECT_EQ(e.type, "Warning");
    EXPECT_EQ(e.ns, "default");
    EXPECT_EQ(e.name, "fn");
    EXPECT_EQ(e.message, "Forbidden: " + refusal);
  }
  ASSERT_FALSE(lines.empty());
  const json line = json::parse(lines[0]);
  EXPECT_EQ(line.value("level", ""), "error");
  EXPECT_EQ(line.value("msg", ""), "reconcile failed");
  EXPECT_EQ(line.value("function", ""), "default/fn");
  EXPECT_EQ(line.value("error", ""), "Forbidden: " + refusal);
  EXPECT_TRUE(line.contains("ts"));
}

TEST(FunctionControllerFailures, ARefusedStatusWriteIsSeenAndThenConverges) {
  Harness h;
  h.client.put_object(api::functions(), function("fn"));
  h.client.fail_next("update_status",
                     kube::Status(kube::StatusCode::kForbidden, "functions/status is forbidden"));
  h.start();
  ASSERT_TRUE(wait_until([&] { return h.has_conditions("fn"); }, 10s))
      << "retried after the refusal";
  h.controller->stop();
  ASSERT_EQ(h.reconcile_errors().size(), 1u);
  EXPECT_EQ(h.reconcile_errors()[0].message, "Forbidden: functions/status is forbidden");
  EXPECT_EQ(h.log.lines().size(), 1u);
  EXPECT_EQ(counter(h.registry, "controller_runtime_reconcile_errors_total"), 1);
}

// A status write that lost a race with another writer (409) is routine: the next reconcile
// reads the newer object. It is logged and counted like any failure, but it is not an Event on
// the Function (it is not the user's to fix).
TEST(FunctionControllerFailures, AConflictIsLoggedAndCountedButIsNoEvent) {
  Harness h;
  h.client.put_object(api::functions(), function("fn"));
  h.client.fail_next("update_status",
                     kube::Status(kube::StatusCode::kConflict, "the object has been modified"));
  h.start();
  ASSERT_TRUE(wait_until([&] { return h.has_conditions("fn"); }, 10s))
      << "retried after the conflict";
  h.controller->stop();
  EXPECT_TRUE(h.reconcile_errors().empty());
  ASSERT_EQ(h.log.lines().size(), 1u);
  EXPECT_EQ(json::parse(h.log.lines()[0]).value("error", ""),
            "Conflict: the object has been modified");
  EXPECT_EQ(counter(h.registry, "controller_runtime_reconcile_errors_total"), 1);
}

// The reconciler throws on an object it cannot read (here a generation that is not a number):
// the worker survives, and the failure is as visible as an API error.
TEST(FunctionControllerFailures, AnObjectOfAnUnexpectedShapeIsAFailureNotACrash) {
  Harness h;
  h.client.put_object(api::functions(), function("odd", {{"generation", "seven"}}));
  h.start();
  ASSERT_TRUE(wait_until([&] { return !h.reconcile_errors().empty(); }, 10s));
  h.controller->stop();
  const auto errors = h.reconcile_errors();
  EXPECT_EQ(errors[0].name, "odd");
  EXPECT_NE(errors[0].message.find("reconcile of default/odd failed"), std::string::npos)
      << errors[0].message;
  EXPECT_EQ(h.log.lines().size(), errors.size());
}

}  // namespace
}  // namespace kubefn::controller
