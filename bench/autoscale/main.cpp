// Autoscaling simulator: replays Azure Functions 2019 trace rows (Shahrad et al., "Serverless
// in the Wild", USENIX ATC 2020) and synthetic shapes through kubefn's decision code and
// clones of Knative KPA, Kubernetes HPA and a fixed 10-minute keep-alive.
//
// Usage: autoscale_sim [TRACES_DIR]   (each sub-folder with invocations.csv + durations.csv)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "simulate.hpp"
#include "workload.hpp"

namespace kb = kubefn::bench;

namespace {

struct PolicyMaker {
  const char* name;
  std::function<std::unique_ptr<kb::Policy>(const kb::PolicySettings&)> make;
};

struct Row {
  std::string trace;
  double cold_start_s;
  std::string policy;
  kb::RunFigures fig;
};

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<kb::Workload> workloads = kb::synthetic_workloads();
  std::string traces_note = "none (synthetic shapes only)";
  if (argc > 1) {
    const std::filesystem::path dir(argv[1]);
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) {
      std::vector<std::filesystem::path> subdirs;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.is_directory() && std::filesystem::exists(e.path() / "invocations.csv")) {
          subdirs.push_back(e.path());
        }
      }
      std::sort(subdirs.begin(), subdirs.end());
      for (const auto& sub : subdirs) {
        std::string error;
        auto w = kb::load_azure(sub.string(), sub.filename().string(), &error);
        if (!w) {
          std::fprintf(stderr, "skipping %s: %s\n", sub.string().c_str(), error.c_str());
          continue;
        }
        workloads.push_back(std::move(*w));
      }
      if (!subdirs.empty()) traces_note = std::to_string(subdirs.size()) + " Azure 2019 folder(s)";
    } else {
      std::fprintf(stderr, "no trace folder at %s: synthetic shapes only\n", argv[1]);
    }
  }

  const std::vector<PolicyMaker> makers = {
      {"kubefn", kb::make_kubefn},
      {"knative-kpa", kb::make_kpa},
      {"k8s-hpa", kb::make_hpa},
      {"keepalive-10m", kb::make_keep_alive},
  };
  const double cold_starts[2] = {1.0, 2.0};
  kb::PolicySettings settings;  // target 0.7 in flight per replica, at most 50 replicas

  std::printf("kubefn autoscaling simulator\n");
  std::printf(
      "traces: Azure Functions 2019 (Shahrad et al., \"Serverless in the Wild\", USENIX "
      "ATC 2020, CC-BY-4.0): %s; synthetic: step-10x, burst, diurnal, sparse\n",
      traces_note.c_str());
  std::printf(
      "model: one call per replica at a time, target %.1f in flight per replica, "
      "cold start 1 s and 2 s, same for every policy\n\n",
      settings.target);

  // Each (trace, cold start, policy) cell sums its functions' runs; two threads share them.
  std::vector<Row> rows;
  for (const auto& w : workloads) {
    for (double cs : cold_starts) {
      for (const auto& m : makers)
        rows.push_back(Row{w.name, cs, m.name, {}});
    }
  }
  std::map<std::string, const kb::Workload*> by_name;
  for (const auto& w : workloads)
    by_name[w.name] = &w;

  struct Job {
    const kb::Workload* w;
    std::size_t function;
  };
  std::vector<Job> jobs;
  for (const auto& w : workloads) {
    for (std::size_t f = 0; f < w.functions.size(); ++f)
      jobs.push_back(Job{&w, f});
  }
  // Longest first, so the two threads finish together.
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    auto weight = [](const Job& j) {
      const auto& f = j.w->functions[j.function];
      double n = static_cast<double>(f.arrivals.size());
      for (int c : f.per_minute)
        n += c;
      return n;
    };
    return weight(a) > weight(b);
  });
  std::mutex mu;
  const bool detail = std::getenv("KUBEFN_AUTOSCALE_DETAIL") != nullptr;
  std::size_t next_job = 0;
  auto worker = [&] {
    while (true) {
      Job job;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next_job >= jobs.size()) return;
        job = jobs[next_job++];
      }
      const kb::FunctionLoad& f = job.w->functions[job.function];
      std::vector<double> at, service;
      f.expand(&at, &service);
      for (double cs : cold_starts) {
        for (const auto& m : makers) {
          auto policy = m.make(settings);
          kb::Replay replay;
          replay.arrivals = &at;
          replay.service = &service;
          replay.cold_start_s = cs;
          replay.end_s = f.length_s() + 900;  // the tail after the last call counts too
          if (job.w->step_at_s) {
            replay.step_at_s = *job.w->step_at_s;
            replay.step_needed = job.w->step_needed_replicas;
          }
          kb::RunFigures fig = kb::simulate(replay, *policy);
          std::lock_guard<std::mutex> lock(mu);
          if (detail) {
            std::fprintf(stderr,
                         "%-28s %-20s cs %.0f %-14s calls %9llu cold %7llu rs %10.0f p99 %.3f\n",
                         job.w->name.c_str(), f.name.c_str(), cs, m.name,
                         static_cast<unsigned long long>(fig.calls),
                         static_cast<unsigned long long>(fig.cold_starts), fig.replica_seconds,
                         fig.wait_percentile_s(99));
          }
          for (Row& r : rows) {
            if (r.trace == job.w->name && r.cold_start_s == cs && r.policy == m.name) {
              r.fig.add(fig);
            }
          }
        }
      }
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();

  auto row = [&](const std::string& trace, double cs, const std::string& policy) -> const Row& {
    for (const Row& r : rows) {
      if (r.trace == trace && r.cold_start_s == cs && r.policy == policy) return r;
    }
    return rows.front();
  };

  int passed = 0, missed = 0;
  std::string goals_json;
  auto goal = [&](bool ok, const std::string& what) {
    std::printf("  %s  %s\n", ok ? "PASS" : "MISS", what.c_str());
    (ok ? passed : missed)++;
  };
  for (const auto& w : workloads) {
    for (double cs : cold_starts) {
      std::printf("%s (%s, %zu function%s), cold start %.0f s\n", w.name.c_str(), w.source.c_str(),
                  w.functions.size(), w.functions.size() == 1 ? "" : "s", cs);
      std::printf("  %-14s %10s %9s %8s %10s %14s %9s", "policy", "calls", "cold", "cold%",
                  "p99 wait", "replica-s", "overprov");
      if (w.step_at_s) std::printf(" %11s", "step->need");
      std::printf("\n");
      for (const auto& m : makers) {
        const kb::RunFigures& f = row(w.name, cs, m.name).fig;
        std::printf("  %-14s %10llu %9llu %7.3f%% %9.3fs %14.0f %9.2f", m.name,
                    static_cast<unsigned long long>(f.calls),
                    static_cast<unsigned long long>(f.cold_starts),
                    f.calls ? 100.0 * static_cast<double>(f.cold_starts) / f.calls : 0.0,
                    f.wait_percentile_s(99), f.replica_seconds,
                    f.busy_seconds > 0 ? f.replica_seconds / f.busy_seconds : 0.0);
        if (w.step_at_s) {
          if (f.step_decision_s >= 0) {
            std::printf(" %10.0fs", f.step_decision_s);
          } else {
            std::printf(" %11s", "never");
          }
        }
        std::printf("\n");
      }
      const auto& k = row(w.name, cs, "kubefn").fig;
      const auto& kpa = row(w.name, cs, "knative-kpa").fig;
      const auto& hpa = row(w.name, cs, "k8s-hpa").fig;
      const auto& ka = row(w.name, cs, "keepalive-10m").fig;
      auto versus = [&](const kb::RunFigures& ref) {
        char buf[160];
        std::snprintf(buf, sizeof buf, " (cold starts %llu vs %llu, replica-s x%.3f)",
                      static_cast<unsigned long long>(k.cold_starts),
                      static_cast<unsigned long long>(ref.cold_starts),
                      ref.replica_seconds > 0 ? k.replica_seconds / ref.replica_seconds : 0.0);
        return std::string(buf);
      };
      goal(k.cold_starts <= kpa.cold_starts && k.replica_seconds <= kpa.replica_seconds,
           "no more cold starts and replica-seconds than knative-kpa" + versus(kpa));
      goal(k.cold_starts <= hpa.cold_starts && k.replica_seconds <= hpa.replica_seconds,
           "no more cold starts and replica-seconds than k8s-hpa" + versus(hpa));
      goal(2 * k.cold_starts <= ka.cold_starts && k.replica_seconds <= ka.replica_seconds,
           "at least 50% fewer cold starts than keepalive-10m at no more replica-seconds" +
               versus(ka));
      if (w.step_at_s) {
        goal(k.step_decision_s >= 0 && k.step_decision_s <= 2.0,
             "10x step: a decision for the needed " + std::to_string(w.step_needed_replicas) +
                 " replicas within 2 s (" + std::to_string(static_cast<int>(k.step_decision_s)) +
                 " s)");
      }
      std::printf("\n");
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("goals: %d PASS, %d MISS; simulated in %.1f s\n", passed, missed, elapsed);

  std::string json = "{\"bench\":\"autoscale\",\"elapsed_s\":" + std::to_string(elapsed) +
                     ",\"goals_pass\":" + std::to_string(passed) +
                     ",\"goals_miss\":" + std::to_string(missed) + ",\"rows\":[";
  bool first = true;
  for (const Row& r : rows) {
    const auto& f = r.fig;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"trace\":\"%s\",\"cold_start_s\":%.0f,\"policy\":\"%s\",\"calls\":%llu,"
                  "\"cold_starts\":%llu,\"cold_fraction\":%.6f,\"p99_wait_s\":%.3f,"
                  "\"replica_seconds\":%.0f,\"overprovisioning\":%.3f,\"step_decision_s\":%.0f}",
                  first ? "" : ",", json_escape(r.trace).c_str(), r.cold_start_s, r.policy.c_str(),
                  static_cast<unsigned long long>(f.calls),
                  static_cast<unsigned long long>(f.cold_starts),
                  f.calls ? static_cast<double>(f.cold_starts) / f.calls : 0.0,
                  f.wait_percentile_s(99), f.replica_seconds,
                  f.busy_seconds > 0 ? f.replica_seconds / f.busy_seconds : 0.0, f.step_decision_s);
    json += buf;
    first = false;
  }
  json += "]}";
  std::printf("%s\n", json.c_str());
  return 0;
}
