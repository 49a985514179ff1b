// The whole controller (informers, queue, workers, reconciler) against the in-process API
// emulator while its fault switches are on: it must still converge, without duplicates.
#include "kubefn/controller/function_controller.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include "function_crd.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/source_digest.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/platform/kubernetes/kubernetes_platform.hpp"
#include "kubefn/testing/fakes/captured_log.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
#include "kubefn/testing/source_server.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::controller {
namespace {

using ::kubefn::testing::CapturedLog;
using ::kubefn::testing::RecordingEvents;
using ::kubefn::testing::wait_until;
using nlohmann::json;
using platform::kubernetes::KubernetesPlatform;
using namespace std::chrono_literals;

double counter(prometheus::Registry& registry, const std::string& name) {
  double n = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric)
      n += m.counter.value;
  }
  return n;
}

TEST(FunctionController, ConvergesThroughConflictsErrorsDroppedWatchesAndCompaction) {
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  kube::RestClientOptions options;
  options.retry.backoff =
      kube::Backoff{std::chrono::milliseconds(5), std::chrono::milliseconds(50)};
  auto client = kube::make_rest_kube_client(config, clock, options);
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());

  RecordingEvents events;
  prometheus::Registry registry;
  KubernetesPlatform platform(api);
  UrlSources sources;
  CapturedLog log;  // retried API errors are logged; kept out of the test's output
  ControllerOptions copts;
  copts.workers = 3;
  copts.log = &log.writer();
  FunctionController controller(api, clock, events, registry, platform, sources, copts);
  controller.start();
  ASSERT_TRUE(wait_until([&] { return controller.synced(); }, 10s, 20ms));

  constexpr int kFunctions = 12;
  for (int i = 0; i < kFunctions; ++i) {
    json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
               {"kind", "Function"},
               {"metadata", {{"name", "f" + std::to_string(i)}, {"namespace", "default"}}},
               {"spec", {{"handler", "f.run"}, {"image", "r/f:" + std::to_string(i)}}}};
    ASSERT_TRUE(api.create(api::functions(), fn, {}).ok());
    if (i == 2) emu.inject_error("update", "functions", 409, 3);
    if (i == 4) emu.inject_error("create", "deployments", 500, 2);
    if (i == 6) emu.drop_watches();
    if (i == 8) emu.compact();
    if (i == 10) emu.inject_error("get", "*", 503, 2, 0);
  }
  auto all_ready = [&] {
    auto list = api.list(api::functions(), "default", {});
    if (!list.ok()) return false;
    int ready = 0;
    for (const auto& f : list.value().items) {
      const json c = find_condition(f.value("status", json::object()), "Ready");
      if (!c.is_null() && c.value("status", "") == "True") {
        ++ready;
      }
    }
    return ready == kFunctions;
  };
  auto describe = [&] {
    std::string out;
    auto list = api.list(api::functions(), "default", {});
    if (!list.ok()) return list.status().to_string();
    for (const auto& f : list.value().items) {
      const json c = find_condition(f.value("status", json::object()), "Ready");
      out += f["metadata"].value("name", "") + "=" + (c.is_null() ? "none" : c.dump()) + "\n";
    }
    for (const auto& fam : registry.Collect()) {
      for (const auto& m : fam.metric) {
        std::string labels;
        for (const auto& l : m.label)
          labels += l.name + "=" + l.value + ",";
        out +=
            fam.name + "{" + labels + "} " + std::to_string(m.counter.value + m.gauge.value) + "\n";
      }
    }
    return out;
  };
  EXPECT_TRUE(wait_until(all_ready, 30s, 20ms)) << describe();
  auto deps = api.list(kube::resources::deployments(), "default", {});
  auto svcs = api.list(kube::resources::services(), "default", {});
  ASSERT_TRUE(deps.ok() && svcs.ok());
  EXPECT_EQ(deps.value().items.size(), static_cast<std::size_t>(kFunctions));
  std::size_t function_services = 0;
  for (const auto& s : svcs.value().items) {
    if (s["metadata"].value("labels", json::object()).contains(api::kFunctionLabel))
      ++function_services;
  }
  EXPECT_EQ(function_services, static_cast<std::size_t>(kFunctions));
  controller.stop();
}

// The controller's workers build a reconciler per reconcile; the URL sources they fetch are
// the controller's, so resyncs of a Function whose sha256 is unchanged fetch nothing.
TEST(FunctionController, ResyncsOfAUrlSourceFetchItOnce) {
  ::kubefn::testing::SourceServer server;
  ASSERT_TRUE(server.ok());
  const std::string text = "int f;\n";
  server.set("/f.cpp", {200, text, {}, false});
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock, {});
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());
  RecordingEvents events;
  prometheus::Registry registry;
  KubernetesPlatform platform(api);
  UrlSources sources;
  ControllerOptions copts;
  copts.resync_period = std::chrono::milliseconds(200);
  FunctionController controller(api, clock, events, registry, platform, sources, copts);
  controller.start();
  ASSERT_TRUE(wait_until([&] { return controller.synced(); }, 10s, 20ms));
  json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
             {"kind", "Function"},
             {"metadata", {{"name", "f"}, {"namespace", "default"}}},
             {"spec",
              {{"handler", "f.run"},
               {"source", {{"url", server.url("/f.cpp")}, {"sha256", sha256_hex(text)}}}}}};
  ASSERT_TRUE(api.create(api::functions(), fn, {}).ok());
  auto source_ready = [&] {
    auto got = api.get({api::functions(), "default", "f"});
    if (!got.ok()) return json();
    return find_condition(got.value().value("status", json::object()), "SourceReady");
  };
  EXPECT_TRUE(wait_until(
      [&] {
        const json c = source_ready();
        return c.is_object() && c.value("status", "") == "True";
      },
      30s, 20ms))
      << source_ready().dump();
  auto reconciles = [&] { return counter(registry, "controller_runtime_reconcile_total"); };
  const double before = reconciles();
  EXPECT_TRUE(wait_until([&] { return reconciles() >= before + 5; }, 30s, 20ms));
  EXPECT_EQ(server.requests("/f.cpp"), 1);
  controller.stop();
}

// The API refuses what the platform writes (here an RBAC 403 on creating Deployments, twice):
// each refusal is a log line naming the Function, a count, and a Warning Event on it; then
// the Function converges.
TEST(FunctionController, AFailedReconcileIsLoggedCountedAndRecordedOnTheFunction) {
  emulator::KubeEmulator emu;
  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock, {});
  ASSERT_TRUE(client.ok());
  kube::KubeClient& api = **client;
  ASSERT_TRUE(testing::install_function_crd(api, KUBEFN_CRD_FILE).ok());
  RecordingEvents events;
  prometheus::Registry registry;
  KubernetesPlatform platform(api);
  UrlSources sources;
  CapturedLog log;
  ControllerOptions copts;
  copts.workers = 1;
  copts.log = &log.writer();
  FunctionController controller(api, clock, events, registry, platform, sources, copts);
  controller.start();
  ASSERT_TRUE(wait_until([&] { return controller.synced(); }, 10s, 20ms));
  emu.inject_error("create", "deployments", 403, 2);
  json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
             {"kind", "Function"},
             {"metadata", {{"name", "f"}, {"namespace", "default"}}},
             {"spec", {{"handler", "f.run"}, {"image", "r/f:1"}}}};
  ASSERT_TRUE(api.create(api::functions(), fn, {}).ok());
  auto ready = [&] {
    auto got = api.get({api::functions(), "default", "f"});
    if (!got.ok()) return false;
    const json c = find_condition(got.value().value("status", json::object()), "Ready");
    return c.is_object() && c.value("status", "") == "True";
  };
  EXPECT_TRUE(wait_until(ready, 30s, 20ms));
  controller.stop();

  // Other failures may come on top: a status write from a cache a step behind is a Conflict,
  // logged and counted like any failure but recorded as no Event (the retry resolves it).
  auto is_conflict = [](const std::string& error) {
    return error == "Conflict" || error.rfind("Conflict: ", 0) == 0;
  };
  std::vector<::kubefn::testing::RecordedEvent> failures;
  int forbidden = 0;
  for (const auto& e : events.events()) {
    if (e.reason != "ReconcileError") continue;
    failures.push_back(e);
    EXPECT_EQ(e.type, "Warning");
    EXPECT_EQ(e.name, "f");
    EXPECT_FALSE(is_conflict(e.message)) << e.message;
    if (e.message.rfind("Forbidden: ", 0) == 0) ++forbidden;
  }
  EXPECT_EQ(forbidden, 2) << "one Event per refusal";
  const auto lines = log.lines();
  std::size_t next_event = 0;
  for (const auto& text : lines) {
    const json line = json::parse(text);
    EXPECT_EQ(line.value("level", ""), "error");
    EXPECT_EQ(line.value("function", ""), "default/f");
    const std::string error = line.value("error", "");
    if (is_conflict(error)) continue;
    ASSERT_LT(next_event, failures.size()) << "a failure logged with no Event: " << error;
    EXPECT_EQ(error, failures[next_event++].message);
  }
  EXPECT_EQ(next_event, failures.size()) << "one log line per Event";
  EXPECT_EQ(counter(registry, "controller_runtime_reconcile_errors_total"),
            static_cast<double>(lines.size()))
      << "every logged failure is counted";
}

}  // namespace
}  // namespace kubefn::controller
