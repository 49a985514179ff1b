// How fast the operator's autoscaler reacts, and what it costs at rest, with the real
// kubefn-operator on the API emulator. Plays the replicas and a gateway on the stats stream.
//
// For each size N: start kube-emulator and kubefn-operator (--stats-port), create N Functions
// (the operator makes their Deployments), then
//   (a) a gateway reports a queued call for fn-0, whose Deployment is at zero: time until a
//       watch on the Deployment shows one replica;
//   (b) fn-1 runs at one call in flight on one replica, then ten: time from the first sample
//       of the step until a watch shows the scale written;
//   (c) all N report a steady load once a second per replica: operator CPU seconds and RSS
//       over the window, and scale changes in it (should be none).
// The reference measured in the same run is what each tick read before the watches: a list
// of every Function, Deployment and Pod, timed here with the same client.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/api/function.hpp"
#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/kube/rest_kube_client.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"
#include "kubefn/v1/stats.grpc.pb.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using kubefn::testing::wait_until;

struct Args {
  std::string emulator, op, crd;
  std::vector<int> sizes{100, 1000};
  int steady_seconds = 60;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// user+system CPU seconds and resident MiB of a process.
double cpu_seconds(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}
double rss_mib(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::int64_t last_second_unix_ms() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return ms / 1000 * 1000 - 1000;
}

kubefn::v1::StatsSample replica_sample(const std::string& fn, const std::string& replica,
                                       double inflight) {
  kubefn::v1::StatsSample s;
  auto* r = s.mutable_replica();
  r->set_namespace_("default");
  r->set_function(fn);
  r->set_replica(replica);
  r->set_second_start_unix_ms(last_second_unix_ms());
  r->set_inflight_average(inflight);
  r->set_inflight_peak(inflight);
  r->set_requests(static_cast<std::uint64_t>(inflight * 10));
  return s;
}

// Watches one Deployment until `done(replicas)` holds; the time it did, or nullopt.
class ScaleWatch {
 public:
  ScaleWatch(kubefn::kube::KubeClient& api, const std::string& name,
             std::function<bool(int)> done) {
    // From the list's resourceVersion (the latest), not the object's: that may be older than
    // the history the server keeps for watches.
    kubefn::kube::ListOptions opts;
    opts.field_selector = "metadata.name=" + name;
    auto list = api.list(kubefn::kube::resources::deployments(), "default", opts);
    opts.resource_version = list.ok() ? list->resource_version : "";
    opts.timeout_seconds = 120;
    auto opened = api.watch(kubefn::kube::resources::deployments(), "default", opts);
    if (!opened.ok()) return;
    stream_ = std::move(*opened);
    thread_ = std::thread([this, done] {
      for (;;) {
        auto e = stream_->next();
        if (!e.ok() || !e->has_value()) return;
        const json& obj = (*e)->object;
        if ((*e)->type == kubefn::kube::WatchEvent::Type::kModified &&
            done(obj.value("spec", json::object()).value("replicas", -1))) {
          seen_ = Clock::now();
          got_ = true;
          return;
        }
      }
    });
  }
  ~ScaleWatch() {
    if (stream_) stream_->cancel();
    if (thread_.joinable()) thread_.join();
  }
  bool ready() const { return stream_ != nullptr; }
  std::optional<double> wait_since(Clock::time_point start, std::chrono::milliseconds timeout) {
    if (!wait_until([&] { return got_.load(); }, timeout, 1ms)) return std::nullopt;
    return std::chrono::duration<double, std::milli>(seen_ - start).count();
  }

 private:
  std::unique_ptr<kubefn::kube::WatchStream> stream_;
  std::atomic<bool> got_{false};
  Clock::time_point seen_;
  std::thread thread_;
};

// Scale changes (spec.replicas differing from the last seen) of every Function's Deployment.
class ScaleChanges {
 public:
  explicit ScaleChanges(kubefn::kube::KubeClient& api) {
    auto list = api.list(kubefn::kube::resources::deployments(), "default", {});
    if (!list.ok()) return;
    for (const auto& d : list->items)
      last_[kubefn::kube::object_name(d)] = d["spec"].value("replicas", -1);
    kubefn::kube::ListOptions opts;
    opts.resource_version = list->resource_version;
    opts.timeout_seconds = 600;
    auto opened = api.watch(kubefn::kube::resources::deployments(), "default", opts);
    if (!opened.ok()) return;
    stream_ = std::move(*opened);
    thread_ = std::thread([this] {
      for (;;) {
        auto e = stream_->next();
        if (!e.ok() || !e->has_value()) return;
        const json& obj = (*e)->object;
        const int r = obj.value("spec", json::object()).value("replicas", -1);
        int& was = last_[kubefn::kube::object_name(obj)];
        if (was != r) ++changes_;
        was = r;
      }
    });
  }
  ~ScaleChanges() {
    if (stream_) stream_->cancel();
    if (thread_.joinable()) thread_.join();
  }
  int changes() const { return changes_; }

 private:
  std::map<std::string, int> last_;
  std::unique_ptr<kubefn::kube::WatchStream> stream_;
  std::atomic<int> changes_{0};
  std::thread thread_;
};

json run_size(const Args& args, int n) {
  kubefn::testing::TempDir dir;
  kubefn::testing::ChildProcess emu({args.emulator, "--port", "0"}, {}, dir.file("emu.out"),
                                    dir.file("emu.err"));
  std::string url;
  if (!wait_until(
          [&] {
            url = read_file(dir.file("emu.out"));
            return url.find('\n') != std::string::npos;
          },
          20s)) {
    return {{"functions", n}, {"error", "the emulator did not start"}};
  }
  url = url.substr(0, url.find('\n'));
  kubefn::kube::RealClock clock;
  kubefn::kube::ClientConfig config;
  config.server = url;
  auto made = kubefn::kube::make_rest_kube_client(config, clock);
  if (!made.ok()) return {{"functions", n}, {"error", made.status().message()}};
  kubefn::kube::KubeClient& api = **made;
  auto crd = api.create({"apiextensions.k8s.io", "v1", "customresourcedefinitions", false},
                        kubefn::emulator::yaml_to_json(read_file(args.crd)).value_or(nullptr), {});
  if (!crd.ok() && !crd.status().is_already_exists()) {
    return {{"functions", n},
            {"error", "cannot create the Function CRD: " + crd.status().to_string()}};
  }
  wait_until([&] { return api.list(kubefn::api::functions(), "default", {}).ok(); }, 20s);

  const std::string kubeconfig = dir.write("kubeconfig",
                                           "apiVersion: v1\nkind: Config\nclusters:\n- name: e\n"
                                           "  cluster:\n    server: " +
                                               url +
                                               "\nusers:\n- name: u\n  user: {}\ncontexts:\n"
                                               "- name: e\n  context:\n    cluster: e\n"
                                               "    user: u\ncurrent-context: e\n")
                                     .string();
  const std::uint16_t stats_port = free_port();
  kubefn::testing::ChildProcess op(
      {args.op, "--kubeconfig", kubeconfig, "--metrics-port", "0", "--bind-address", "127.0.0.1",
       "--workers", "4", "--stats-port", std::to_string(stats_port)},
      {}, dir.file("op.out"), dir.file("op.err"));
  if (!wait_until(
          [&] { return read_file(dir.file("op.err")).find("autoscaler on") != std::string::npos; },
          20s)) {
    return {{"functions", n},
            {"error", "the operator did not start: " + read_file(dir.file("op.err"))}};
  }

  // N Functions; fn-0 may go to zero. The operator creates their Deployments (one replica).
  const auto created_at = Clock::now();
  for (int i = 0; i < n; ++i) {
    json fn = {
        {"apiVersion", "kubefn.dev/v1alpha1"},
        {"kind", "Function"},
        {"metadata", {{"name", "fn-" + std::to_string(i)}, {"namespace", "default"}}},
        {"spec",
         {{"handler", "fn.run"},
          {"image", "registry.local/fn:" + std::to_string(i)},
          {"scaling", {{"minReplicas", i == 0 ? 0 : 1}, {"maxReplicas", 20}, {"target", 1}}}}}};
    auto created = api.create(kubefn::api::functions(), fn, {});
    if (!created.ok()) {
      return {{"functions", n},
              {"error", "cannot create " + kubefn::kube::object_name(fn) + ": " +
                            created.status().to_string()}};
    }
  }
  kubefn::kube::ListOptions labelled;
  labelled.label_selector = "kubefn.dev/function";
  if (!wait_until(
          [&] {
            auto l = api.list(kubefn::kube::resources::deployments(), "default", labelled);
            return l.ok() && static_cast<int>(l->items.size()) == n;
          },
          120s, 200ms)) {
    return {{"functions", n}, {"error", "the Deployments were not all created"}};
  }
  const double deployments_s = seconds_since(created_at);

  // The reference: one pass of the lists each old refresh made (all pages of 500).
  const auto list_start = Clock::now();
  std::size_t listed = 0;
  for (const auto& [resource, selector] :
       std::vector<std::pair<kubefn::kube::GroupVersionResource, std::string>>{
           {kubefn::api::functions(), ""},
           {kubefn::kube::resources::deployments(), "kubefn.dev/function"},
           {kubefn::kube::resources::pods(), "kubefn.dev/function"}}) {
    kubefn::kube::ListOptions o;
    o.label_selector = selector;
    o.limit = 500;
    for (;;) {
      auto page = api.list(resource, "", o);
      if (!page.ok()) break;
      listed += page->items.size();
      if (page->continue_token.empty()) break;
      o.continue_token = page->continue_token;
    }
  }
  const double list_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - list_start).count();

  auto stub = kubefn::v1::Stats::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(stats_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  kubefn::v1::ReportSummary summary;
  auto writer = stub->Report(&ctx, &summary);
  json out = {{"functions", n},
              {"deployments_created_s", std::round(deployments_s * 100) / 100},
              {"old_refresh_list_ms", std::round(list_ms * 10) / 10},
              {"old_refresh_objects", listed}};

  // (a) From zero: fn-0's Deployment is set to zero (as an idle scale-down would), then a
  // gateway queues a call for it.
  {
    auto r = api.patch({kubefn::kube::resources::deployments(), "default", "fn-0"},
                       kubefn::kube::PatchType::kMerge, json{{"spec", {{"replicas", 0}}}},
                       kubefn::kube::PatchOptions{"bench", false, "scale"});
    (void)r;
    // No load and a minimum of zero: the autoscaler keeps it there. Let its watch deliver the
    // zero (a bench may wait; the figure below starts after this).
    std::this_thread::sleep_for(1500ms);
    ScaleWatch watch(api, "fn-0", [](int replicas) { return replicas >= 1; });
    kubefn::v1::StatsSample s;
    auto* g = s.mutable_gateway();
    g->set_gateway("bench-gateway");
    g->set_second_start_unix_ms(last_second_unix_ms() + 1000);
    auto* f = g->add_functions();
    f->set_namespace_("default");
    f->set_function("fn-0");
    f->set_requests(1);
    f->set_queued(1);
    const auto start = Clock::now();
    writer->Write(s);
    auto ms = watch.wait_since(start, 20s);
    out["from_zero_ms"] = ms ? json(std::round(*ms * 10) / 10) : json(nullptr);
  }

  // (b) A tenfold step on fn-1.
  {
    for (int i = 0; i < 4; ++i) {
      writer->Write(replica_sample("fn-1", "fn-1-r0", 1));
      std::this_thread::sleep_for(1s);  // one sample a second, as a replica sends them
    }
    ScaleWatch watch(api, "fn-1", [](int replicas) { return replicas > 1; });
    const auto start = Clock::now();
    std::optional<double> ms;
    for (int i = 0; i < 10 && !ms; ++i) {
      writer->Write(replica_sample("fn-1", "fn-1-r0", 10));
      ms = watch.wait_since(start, 1000ms);
    }
    out["load_step_ms"] = ms ? json(std::round(*ms * 10) / 10) : json(nullptr);
  }
  auto fn1 = api.get({kubefn::kube::resources::deployments(), "default", "fn-1"});
  const int fn1_replicas = fn1.ok() ? (*fn1)["spec"].value("replicas", 1) : 1;

  // (c) Steady load on all N: one sample per replica a second, each at the load that keeps its
  // count (fn-1 at its new count, the others at half a call on their one replica).
  {
    ScaleChanges changes(api);
    const double cpu0 = cpu_seconds(op.pid());
    double peak_rss = rss_mib(op.pid());
    const auto start = Clock::now();
    auto next = start;
    int samples = 0;
    for (int t = 0; t < args.steady_seconds; ++t) {
      for (int i = 0; i < n; ++i) {
        const std::string fn = "fn-" + std::to_string(i);
        const int replicas = i == 1 ? fn1_replicas : 1;
        for (int r = 0; r < replicas; ++r) {
          writer->Write(replica_sample(fn, fn + "-r" + std::to_string(r), i == 1 ? 1.0 : 0.5));
          ++samples;
        }
      }
      peak_rss = std::max(peak_rss, rss_mib(op.pid()));
      next += 1s;
      std::this_thread::sleep_until(next);  // paced at one sample per replica a second
    }
    const double window = seconds_since(start);
    out["steady_window_s"] = std::round(window * 10) / 10;
    out["steady_samples"] = samples;
    out["operator_cpu_s"] = std::round((cpu_seconds(op.pid()) - cpu0) * 100) / 100;
    out["operator_cpu_percent"] = std::round((cpu_seconds(op.pid()) - cpu0) / window * 1000) / 10;
    out["operator_rss_mib"] = std::round(peak_rss * 10) / 10;
    out["steady_scale_changes"] = changes.changes();
  }
  writer->WritesDone();
  writer->Finish();
  op.signal(SIGTERM);
  op.wait_exit(20s);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--emulator") args.emulator = v;
    if (k == "--operator") args.op = v;
    if (k == "--crd") args.crd = v;
    if (k == "--steady-seconds") args.steady_seconds = std::stoi(v);
    if (k == "--sizes") {
      args.sizes.clear();
      std::istringstream in(v);
      for (int s; in >> s;)
        args.sizes.push_back(s);
    }
  }
  // Before watches, the autoscaler listed every 5 ticks of 1 s: a new Function, a scale written
  // by someone else or a deleted Pod waited up to this long. That build is gone; a constant.
  constexpr double kOldListPeriodMs = 5000;
  std::vector<json> results;
  std::printf("%9s %11s %13s %13s %9s %9s %13s %15s\n", "functions", "from zero", "10x step",
              "steady CPU s", "CPU %", "RSS MiB", "scale writes", "old list pass");
  for (int n : args.sizes) {
    json r = run_size(args, n);
    results.push_back(r);
    if (r.contains("error")) {
      std::printf("%9d error: %s\n", n, r["error"].get<std::string>().c_str());
      continue;
    }
    auto ms = [](const json& v) { return v.is_number() ? v.get<double>() : -1.0; };
    std::printf("%9d %9.1fms %11.1fms %13.2f %9.1f %9.1f %13d %12.1fms\n", n, ms(r["from_zero_ms"]),
                ms(r["load_step_ms"]), r["operator_cpu_s"].get<double>(),
                r["operator_cpu_percent"].get<double>(), r["operator_rss_mib"].get<double>(),
                r["steady_scale_changes"].get<int>(), r["old_refresh_list_ms"].get<double>());
    std::printf(
        "          (a new Function, an outside scale or a deleted Pod was seen up to "
        "%.0f ms late before; now by watch)\n",
        kOldListPeriodMs);
    std::fflush(stdout);
  }
  std::cout << json{{"bench", "autoscale-cluster"},
                    {"old_list_period_ms", kOldListPeriodMs},
                    {"old_list_period_measured", false},
                    {"results", results}}
                   .dump()
            << std::endl;
  return 0;
}
