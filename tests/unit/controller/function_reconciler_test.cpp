// The reconcile core alone: a Function in an in-memory API, a FakePlatform answering what each
// row scripts, and the conditions, Events, status writes and platform calls that come out. No
// emulator, no network, no threads: a row runs in well under a millisecond.
#include "kubefn/controller/function_reconciler.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>

#include "kubefn/api/function.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/source_digest.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/fake_platform.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"

namespace kubefn::controller {
namespace {

using ::kubefn::testing::FakeKubeClient;
using ::kubefn::testing::FakePlatform;
using ::kubefn::testing::RecordingEvents;
using nlohmann::json;
using Strings = std::vector<std::string>;

// No row names a URL source: a fetch would be a bug.
class NoFetches final : public SourceFetcher {
 public:
  FetchResult fetch(const std::string& url) override {
    ADD_FAILURE() << "fetched " << url;
    return {FetchResult::Error::kUnavailable, {}, "no network in unit tests"};
  }
};

// The core and everything around it, fake.
struct Core {
  FakeKubeClient client;
  ClientReader reader{client};
  kube::FakeClock clock;
  RecordingEvents events;
  FakePlatform platform;
  NoFetches fetcher;
  UrlSources sources{fetcher};
  FunctionReconciler reconciler{client, reader, clock, events, platform, sources};

  kube::Result<kube::ReconcileResult> reconcile() { return reconciler.reconcile("default", "fn"); }
  json stored() const {
    auto fn = client.peek({api::functions(), "default", "fn"});
    return fn ? *fn : json::object();
  }
  json status() const { return stored().value("status", json::object()); }
  // "status reason" of a condition, or empty when there is none.
  std::string condition(const std::string& type) const {
    const json c = find_condition(status(), type);
    return c.is_null() ? "" : c.value("status", "") + " " + c.value("reason", "");
  }
};

json function(json spec, json metadata = json::object()) {
  json fn = {{"apiVersion", api::kApiVersion},
             {"kind", api::kKind},
             {"metadata",
              {{"name", "fn"}, {"namespace", "default"}, {"uid", "uid-fn"}, {"generation", 1}}},
             {"spec", std::move(spec)}};
  fn["metadata"].merge_patch(metadata);
  return fn;
}

const json kPrebuilt = {{"handler", "fn.run"}, {"image", "registry.test/fn:1"}};
const json kInline = {{"handler", "fn.run"}, {"source", {{"inline", "int f;"}}}};

kube::Status forbidden(const std::string& what) {
  return kube::Status(kube::StatusCode::kForbidden, what + " is forbidden: RBAC says no");
}

struct Row {
  const char* name;
  std::optional<json> function;  // what the API holds; none: nothing
  void (*script)(Core&);         // faults and platform answers (may be null)
  // What comes out.
  kube::StatusCode error;  // kOk: the reconcile succeeded
  std::optional<std::chrono::seconds> requeue_after;
  std::string ready;  // Ready's "status reason" in the stored status; empty: none
  Strings events;     // "type reason", in order
  int status_writes;  // that succeeded
  Strings steps;      // platform calls, in order
};

void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

class ReconcileCore : public ::testing::TestWithParam<Row> {};

TEST_P(ReconcileCore, Row) {
  const Row& row = GetParam();
  Core core;
  if (row.function) core.client.put_object(api::functions(), *row.function);
  if (row.script != nullptr) row.script(core);

  const auto r = core.reconcile();
  if (row.error == kube::StatusCode::kOk) {
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r->retry);
    EXPECT_EQ(r->requeue_after, row.requeue_after);
  } else {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), row.error) << r.status().to_string();
  }
  EXPECT_EQ(core.condition(api::condition::kReady), row.ready) << core.status().dump();
  EXPECT_EQ(core.events.summary(), row.events);
  EXPECT_EQ(core.reconciler.writes().status_updates, row.status_writes);
  EXPECT_EQ(core.platform.steps(), row.steps);
  const WriteCounts& w = core.reconciler.writes();
  EXPECT_EQ(w.creates + w.updates + w.deletes, 0) << "only the platform writes objects";
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReconcileCore,
    ::testing::Values(
        // A spec the schema let through but the core refuses: terminal until edited.
        Row{"bad_spec",
            function({{"handler", "nodot"}, {"image", "i"}}),
            nullptr,
            kube::StatusCode::kOk,
            std::nullopt,
            "False InvalidHandler",
            {"Warning InvalidHandler"},
            1,
            {}},
        // Deleted: the platform lets go of what it holds.
        Row{"not_found",
            std::nullopt,
            nullptr,
            kube::StatusCode::kOk,
            std::nullopt,
            "",
            {},
            0,
            {"forget"}},
        Row{"being_deleted",
            function(kPrebuilt, {{"deletionTimestamp", "2026-01-01T00:00:00Z"},
                                 {"finalizers", json::array({"example.test/hold"})}}),
            nullptr,
            kube::StatusCode::kOk,
            std::nullopt,
            "",
            {},
            0,
            {"forget"}},
        // API errors: retried with backoff by the caller, which makes them seen.
        Row{"function_read_fails",
            function(kPrebuilt),
            [](Core& c) {
              c.client.fail_next("get",
                                 kube::Status(kube::StatusCode::kServiceUnavailable, "busy"));
            },
            kube::StatusCode::kServiceUnavailable,
            std::nullopt,
            "",
            {},
            0,
            {}},
        Row{"status_write_refused",
            function(kPrebuilt),
            [](Core& c) { c.client.fail_next("update_status", forbidden("functions/status")); },
            kube::StatusCode::kForbidden,
            std::nullopt,
            "",
            {"Normal Ready"},
            0,
            {"prepare", "run"}},
        Row{"platform_refused",
            function(kPrebuilt),
            [](Core& c) {
              c.platform.answer_prepare(StepOutcome::api_error(forbidden("services")));
            },
            kube::StatusCode::kForbidden,
            std::nullopt,
            "",
            {},
            1,  // observedGeneration: the core saw the spec
            {"prepare"}},
        Row{"run_refused_keeps_what_came_before",
            function(kPrebuilt),
            [](Core& c) {
              c.platform.answer_run(StepOutcome::api_error(
                  kube::Status(kube::StatusCode::kInvalid, "denied by a webhook")));
            },
            kube::StatusCode::kInvalid,
            std::nullopt,
            "",
            {},
            1,
            {"prepare", "run"}},
        Row{"source_config_map_read_fails",
            function({{"handler", "fn.run"}, {"source", {{"configMapRef", {{"name", "code"}}}}}}),
            [](Core& c) {
              c.client.on("get",
                          [](const FakeKubeClient::Call& call) -> std::optional<kube::Status> {
                            if (call.resource.resource == "configmaps")
                              return forbidden("configmaps");
                            return std::nullopt;
                          });
            },
            kube::StatusCode::kForbidden,
            std::nullopt,
            "",
            {},
            0,
            {}},
        // Steps not done: Ready follows them.
        Row{"source_config_map_missing",
            function({{"handler", "fn.run"}, {"source", {{"configMapRef", {{"name", "code"}}}}}}),
            nullptr,
            kube::StatusCode::kOk,
            std::chrono::seconds(30),
            "False SourceNotFound",
            {"Warning SourceNotFound"},
            1,
            {}},
        Row{"build_running",
            function(kInline),
            [](Core& c) {
              c.platform.answer_build({StepOutcome::waiting("Building", "build Job is running")});
            },
            kube::StatusCode::kOk,
            std::nullopt,
            "False Building",
            {"Normal Building"},
            1,
            {"prepare", "build"}},
        Row{"build_failed",
            function(kInline),
            [](Core& c) {
              c.platform.answer_build({StepOutcome::failed("BuildFailed", "fn.cpp:1: error")});
            },
            kube::StatusCode::kOk,
            std::nullopt,
            "False BuildFailed",
            {"Warning BuildFailed"},
            1,
            {"prepare", "build"}},
        Row{"replicas_crash",
            function(kPrebuilt),
            [](Core& c) {
              c.platform.answer_run(StepOutcome::failed("CrashLoop", "replica keeps failing",
                                                        std::chrono::seconds(5)));
            },
            kube::StatusCode::kOk,
            std::chrono::seconds(5),
            "False CrashLoop",
            {"Warning CrashLoop"},
            1,
            {"prepare", "run"}},
        Row{"rollout_in_progress",
            function(kPrebuilt),
            [](Core& c) {
              WorkloadOutcome w = FakePlatform::ready_workload(2);
              w.ready = 1;
              w.available = false;
              w.rolled_out = false;
              c.platform.answer_run(w);
            },
            kube::StatusCode::kOk,
            std::nullopt,
            "False Deploying",
            {"Normal Deploying"},
            1,
            {"prepare", "run"}},
        // Happy paths.
        Row{"prebuilt_image_ready",
            function(kPrebuilt),
            nullptr,
            kube::StatusCode::kOk,
            std::nullopt,
            "True Ready",
            {"Normal Ready"},
            1,
            {"prepare", "run"}},
        Row{"source_built_and_ready",
            function(kInline),
            nullptr,
            kube::StatusCode::kOk,
            std::nullopt,
            "True Ready",
            {"Normal Ready"},
            1,
            {"prepare", "build", "run"}},
        Row{"scaled_to_zero",
            function(kPrebuilt),
            [](Core& c) { c.platform.answer_run(FakePlatform::ready_workload(0)); },
            kube::StatusCode::kOk,
            std::nullopt,
            "True ScaledToZero",
            {"Normal ScaledToZero"},
            1,
            {"prepare", "run"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ReconcileCoreStatus, ABuiltSourceRunsTheImageBuiltForItsDigest) {
  Core core;
  core.client.put_object(api::functions(), function(kInline));
  ASSERT_TRUE(core.reconcile().ok());
  const json status = core.status();
  const auto parsed = parse_function(function(kInline));
  const std::string digest = source_digest(std::get<FunctionSpec>(parsed), "int f;");
  EXPECT_EQ(status.value("sourceDigest", ""), digest);
  EXPECT_EQ(status.value("imageSourceDigest", ""), digest);
  EXPECT_EQ(status.value("image", ""), FakePlatform::kBuiltImage);
  EXPECT_EQ(status.value("url", ""), FakePlatform::kUrl);
  EXPECT_EQ(status.value("readyReplicas", 0), 1);
  EXPECT_EQ(status.value("observedGeneration", 0), 1);
  EXPECT_EQ(core.condition(api::condition::kSourceReady), "True SourceStored");
  EXPECT_EQ(core.condition(api::condition::kBuilt), "True Built");
  EXPECT_EQ(core.condition(api::condition::kDeploymentReady), "True Available");
  const auto calls = core.platform.calls();
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    EXPECT_EQ(c.digest, digest) << c.step;
    EXPECT_EQ(c.source, "int f;") << c.step;
  }
  EXPECT_EQ(calls[2].image, FakePlatform::kBuiltImage);
}

TEST(ReconcileCoreStatus, AConvergedFunctionIsNeitherBuiltNorWrittenAgain) {
  Core core;
  core.client.put_object(api::functions(), function(kInline));
  ASSERT_TRUE(core.reconcile().ok());
  core.platform.clear();
  core.events.clear();
  const int writes = core.reconciler.writes().status_updates;
  ASSERT_TRUE(core.reconcile().ok());
  EXPECT_EQ(core.platform.steps(), (Strings{"prepare", "run"}))
      << "the image recorded for the digest is reused";
  EXPECT_EQ(core.reconciler.writes().status_updates, writes);
  EXPECT_TRUE(core.events.events().empty());
}

TEST(ReconcileCoreStatus, TheAutoscalersScalingStatusIsCarriedOver) {
  Core core;
  json fn = function(kPrebuilt);
  fn["status"] = {{"scaling", {{"desiredReplicas", 3}, {"reason", "load"}}}};
  core.client.put_object(api::functions(), fn);
  ASSERT_TRUE(core.reconcile().ok());
  EXPECT_EQ(core.status()["scaling"], fn["status"]["scaling"]);
  EXPECT_EQ(core.condition(api::condition::kReady), "True Ready");
}

}  // namespace
}  // namespace kubefn::controller
