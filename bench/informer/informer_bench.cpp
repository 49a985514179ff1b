// Informer benchmark: initial sync of N objects and watch throughput, against the in-process
// Kubernetes API emulator over real HTTP. The reference, measured in the same run, is a bare
// paginated list of the same objects with the same client (no cache, no handlers).
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/kube/informer.hpp"
#include "kubefn/kube/rest_kube_client.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

json config_map(int i) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata",
           {{"name", "cm-" + std::to_string(i)},
            {"namespace", "default"},
            {"labels", {{"app", "bench"}, {"shard", std::to_string(i % 16)}}}}},
          {"data", {{"payload", std::string(256, 'x')}}}};
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

int main() {
  using namespace kubefn;
  const int objects =
      std::getenv("BENCH_OBJECTS") ? std::atoi(std::getenv("BENCH_OBJECTS")) : 10000;
  const int events = std::getenv("BENCH_EVENTS") ? std::atoi(std::getenv("BENCH_EVENTS")) : 5000;

  emulator::EmulatorOptions eopts;
  eopts.deployment_controller = false;
  eopts.garbage_collector = false;
  eopts.watch_cache_size = static_cast<std::size_t>(events) * 2 + 100;
  emulator::KubeEmulator emu(eopts);
  for (int i = 0; i < objects; ++i) {
    auto r = emu.call("POST", "/api/v1/namespaces/default/configmaps", config_map(i));
    if (r.status != 201) {
      std::fprintf(stderr, "create failed: %d %s\n", r.status, r.body.dump().c_str());
      return 1;
    }
  }

  kube::RealClock clock;
  kube::ClientConfig config;
  config.server = emu.url();
  auto client = kube::make_rest_kube_client(config, clock);
  if (!client.ok()) return 1;
  const auto gvr = kube::resources::config_maps();

  // Reference: the bare paginated list (500 per page, as the informer pages).
  auto t0 = Clock::now();
  std::size_t listed = 0;
  kube::ListOptions lo;
  lo.limit = 500;
  for (;;) {
    auto page = (*client)->list(gvr, "default", lo);
    if (!page.ok()) return 1;
    listed += page->items.size();
    if (page->continue_token.empty()) break;
    lo.continue_token = page->continue_token;
  }
  const double list_s = seconds_since(t0);

  const long rss_before = rss_kib();
  std::atomic<int> adds{0};
  kube::InformerOptions io;
  io.resource = gvr;
  io.ns = "default";
  kube::Informer informer(
      **client, clock, io,
      kube::InformerHandlers{[&](const json&) { adds.fetch_add(1); },
                             [&](const json&, const json&) {}, [&](const json&) {}});
  t0 = Clock::now();
  informer.start();
  if (!informer.wait_for_sync(std::chrono::seconds(300))) return 1;
  const double sync_s = seconds_since(t0);
  const long rss_synced = rss_kib();

  // Watch throughput: writes made in-process, as fast as the emulator takes them; the
  // clock stops when the informer's handler has seen the last one.
  const int target = objects + events;
  t0 = Clock::now();
  for (int i = objects; i < target; ++i) {
    emu.call("POST", "/api/v1/namespaces/default/configmaps", config_map(i));
  }
  const double write_s = seconds_since(t0);
  while (adds.load() < target && seconds_since(t0) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double watch_s = seconds_since(t0);
  informer.stop();

  std::printf(
      "objects %d: bare list %.3f s, informer sync %.3f s (%.2fx the list), cache %.1f MiB "
      "(%.0f B/object)\n",
      objects, list_s, sync_s, sync_s / list_s, (rss_synced - rss_before) / 1024.0,
      (rss_synced - rss_before) * 1024.0 / objects);
  std::printf("watch: %d events delivered in %.3f s (%.0f events/s; writes took %.3f s)\n", events,
              watch_s, events / watch_s, write_s);
  json out = {{"bench", "informer"},
              {"objects", objects},
              {"listed", listed},
              {"bare_list_s", list_s},
              {"sync_s", sync_s},
              {"sync_over_list", sync_s / list_s},
              {"cache_rss_mib", (rss_synced - rss_before) / 1024.0},
              {"rss_mib", rss_synced / 1024.0},
              {"watch_events", events},
              {"watch_s", watch_s},
              {"watch_events_per_s", events / watch_s},
              {"handler_adds", adds.load()}};
  std::printf("%s\n", out.dump().c_str());
  return adds.load() == target ? 0 : 1;
}
