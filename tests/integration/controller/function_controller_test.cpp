// The whole controller (informers, queue, workers, reconciler) against the in-process API
// emulator while its fault switches are on: it must still converge, without duplicates.
#include "kubefn/controller/function_controller.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <thread>

#include "function_crd.hpp"
#include "kubefn/controller/conditions.hpp"
#include "kubefn/controller/desired.hpp"
#include "kubefn/controller/function_reconciler.hpp"
#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/source_server.hpp"

namespace kubefn::controller {
namespace {

using nlohmann::json;

class NullEvents : public EventRecorder {
 public:
  void record(const json&, const std::string&, const std::string&, const std::string&) override {}
};

bool eventually(const std::function<bool()>& cond, std::chrono::seconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
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

  NullEvents events;
  prometheus::Registry registry;
  ControllerOptions copts;
  copts.workers = 3;
  FunctionController controller(api, clock, events, registry, copts);
  controller.start();
  ASSERT_TRUE(eventually([&] { return controller.synced(); }, std::chrono::seconds(10)));

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
  EXPECT_TRUE(eventually(all_ready, std::chrono::seconds(30))) << describe();
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
  NullEvents events;
  prometheus::Registry registry;
  ControllerOptions copts;
  copts.resync_period = std::chrono::milliseconds(200);
  FunctionController controller(api, clock, events, registry, copts);
  controller.start();
  ASSERT_TRUE(eventually([&] { return controller.synced(); }, std::chrono::seconds(10)));
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
  EXPECT_TRUE(eventually(
      [&] {
        const json c = source_ready();
        return c.is_object() && c.value("status", "") == "True";
      },
      std::chrono::seconds(30)))
      << source_ready().dump();
  auto reconciles = [&] {
    double n = 0;
    for (const auto& fam : registry.Collect()) {
      if (fam.name != "controller_runtime_reconcile_total") continue;
      for (const auto& m : fam.metric)
        n += m.counter.value;
    }
    return n;
  };
  const double before = reconciles();
  EXPECT_TRUE(eventually([&] { return reconciles() >= before + 5; }, std::chrono::seconds(30)));
  EXPECT_EQ(server.requests("/f.cpp"), 1);
  controller.stop();
}

}  // namespace
}  // namespace kubefn::controller
