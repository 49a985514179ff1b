// Autoscaling simulator: replays Azure Functions 2019 trace rows (Shahrad et al., "Serverless
// in the Wild", USENIX ATC 2020) and synthetic shapes through kubefn's decision code and
// clones of Knative KPA, Kubernetes HPA and a fixed 10-minute keep-alive.
//
// Usage: autoscale_sim [--seeds LIST] [--costs LIST] [--default-cost N] [--cold-starts LIST]
//                      [--only NAME] [TRACES_DIR]
//   --seeds   seeds of the synthetic shapes (whole numbers from 1), e.g. 1,2,3 or 1-5
//             (default 1; or KUBEFN_AUTOSCALE_SEEDS)
//   --costs   kubefn's spec.scaling.coldStartCost settings for the curve, in replica-seconds
//             per cold start (default 0,5,15,30,45,60,120,300)
//   --default-cost  the setting the "kubefn" rows and the goals use (default: the library's)
//   --cold-starts   the modelled cold starts, in seconds (default 1,2)
//   --only NAME     only the traces whose name holds NAME
//   TRACES_DIR      each sub-folder with invocations.csv + durations.csv
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "simulate.hpp"
#include "workload.hpp"

namespace kb = kubefn::bench;

namespace {

struct PolicyMaker {
  std::string name;
  std::function<std::unique_ptr<kb::Policy>(const kb::PolicySettings&)> make;
};

struct Row {
  std::string trace;
  double cold_start_s;
  std::string policy;
  kb::RunFigures fig;
};

// "1,2,5-7" -> 1 2 5 6 7; false when it is not such a list.
bool parse_list(const std::string& text, std::vector<double>* out, bool ranges) {
  out->clear();
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    char* end = nullptr;
    const double lo = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || !(lo >= 0)) return false;
    double hi = lo;
    if (*end == '-' && ranges) {
      const char* rest = end + 1;
      hi = std::strtod(rest, &end);
      if (end == rest || hi < lo || hi - lo > 1000) return false;
    }
    if (*end != '\0') return false;
    for (double v = lo; v <= hi; v += 1)
      out->push_back(v);
    at = comma + 1;
  }
  return !out->empty();
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Where the default stands against the KPA clone on a trace.
enum class Versus { kDominates, kTies, kTrades, kWeaklyWorse, kWorseOnBoth };

Versus versus_kpa(const kb::RunFigures& k, const kb::RunFigures& kpa) {
  const bool fewer_cold = k.cold_starts<kpa.cold_starts, more_cold = k.cold_starts> kpa.cold_starts;
  const bool less_rs =
      k.replica_seconds<kpa.replica_seconds, more_rs = k.replica_seconds> kpa.replica_seconds;
  if (more_cold && more_rs) return Versus::kWorseOnBoth;
  if ((more_cold && !less_rs) || (more_rs && !fewer_cold)) return Versus::kWeaklyWorse;
  if ((fewer_cold && more_rs) || (less_rs && more_cold)) return Versus::kTrades;
  if (fewer_cold || less_rs) return Versus::kDominates;
  return Versus::kTies;
}

const char* to_string(Versus v) {
  switch (v) {
    case Versus::kDominates:
      return "dominates";
    case Versus::kTies:
      return "ties";
    case Versus::kTrades:
      return "trades";
    case Versus::kWeaklyWorse:
      return "tied on one axis, worse on the other";
    case Versus::kWorseOnBoth:
      return "worse on both";
  }
  return "?";
}

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
  std::vector<double> seeds = {1};
  std::vector<double> costs = {0, 5, 15, 30, 45, 60, 120, 300};
  std::vector<double> cold_starts = {1, 2};  // seconds from asking for a replica to its readiness
  kb::PolicySettings settings;  // target 0.7 in flight per replica, at most 50 replicas
  if (const char* env = std::getenv("KUBEFN_AUTOSCALE_SEEDS"); env != nullptr && *env) {
    if (!parse_list(env, &seeds, true)) {
      std::fprintf(stderr, "KUBEFN_AUTOSCALE_SEEDS=%s: give seeds such as 1,2,3 or 1-5\n", env);
      return 2;
    }
  }
  std::string traces_dir, only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--seeds" && has_value) {
      if (!parse_list(argv[++i], &seeds, true)) {
        std::fprintf(stderr, "--seeds %s: give seeds such as 1,2,3 or 1-5\n", argv[i]);
        return 2;
      }
    } else if (arg == "--costs" && has_value) {
      if (!parse_list(argv[++i], &costs, false)) {
        std::fprintf(stderr, "--costs %s: give replica-seconds such as 0,30,60\n", argv[i]);
        return 2;
      }
    } else if (arg == "--cold-starts" && has_value) {
      if (!parse_list(argv[++i], &cold_starts, false)) {
        std::fprintf(stderr, "--cold-starts %s: give seconds such as 1,2\n", argv[i]);
        return 2;
      }
    } else if (arg == "--only" && has_value) {
      only = argv[++i];
    } else if (arg == "--default-cost" && has_value) {
      std::vector<double> one;
      if (!parse_list(argv[++i], &one, false) || one.size() != 1) {
        std::fprintf(stderr, "--default-cost %s: give one number of replica-seconds\n", argv[i]);
        return 2;
      }
      settings.cold_start_cost = one[0];
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr,
                   "usage: autoscale_sim [--seeds 1-5] [--costs 0,5,15] [--default-cost 60] "
                   "[--cold-starts 1,2] [--only NAME] [TRACES_DIR]\n");
      return 2;
    } else {
      traces_dir = arg;
    }
  }
  const double default_cost = settings.cold_start_cost;
  for (double seed : seeds) {
    if (seed < 1 || seed != static_cast<double>(static_cast<std::uint64_t>(seed))) {
      std::fprintf(stderr, "seed %s: seeds are whole numbers from 1\n", number(seed).c_str());
      return 2;
    }
  }

  std::vector<kb::Workload> workloads;
  for (double seed : seeds) {
    for (auto& w : kb::synthetic_workloads(static_cast<std::uint64_t>(seed)))
      workloads.push_back(std::move(w));
  }
  std::string traces_note = "none (synthetic shapes only)";
  if (!traces_dir.empty()) {
    const std::filesystem::path dir(traces_dir);
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
      std::fprintf(stderr, "no trace folder at %s: synthetic shapes only\n", traces_dir.c_str());
    }
  }

  if (!only.empty()) {
    std::erase_if(workloads,
                  [&](const kb::Workload& w) { return w.name.find(only) == std::string::npos; });
  }

  // The peers, then kubefn at each price of a cold start (the default's is the "kubefn" row).
  std::vector<PolicyMaker> makers = {
      {"kubefn", [](const kb::PolicySettings& s) { return kb::make_kubefn(s); }},
      {"knative-kpa", kb::make_kpa},
      {"k8s-hpa", kb::make_hpa},
      {"keepalive-10m", kb::make_keep_alive},
  };
  constexpr std::size_t kPeers = 4;
  std::vector<std::string> curve_policy;  // per cost, the row that holds it
  for (double c : costs) {
    if (c == default_cost) {
      curve_policy.push_back("kubefn");
      continue;
    }
    const std::string name = "kubefn-cost-" + number(c);
    curve_policy.push_back(name);
    makers.push_back(PolicyMaker{name, [c, name](const kb::PolicySettings& s) {
                                   kb::PolicySettings at = s;
                                   at.cold_start_cost = c;
                                   return kb::make_kubefn(at, name);
                                 }});
  }

  std::string seed_list;
  for (double seed : seeds)
    seed_list += (seed_list.empty() ? "" : ",") + number(seed);
  std::string shape_list;
  for (const auto& n : kb::synthetic_shape_names())
    shape_list += (shape_list.empty() ? "" : ", ") + n;
  std::printf("kubefn autoscaling simulator\n");
  std::printf(
      "traces: Azure Functions 2019 (Shahrad et al., \"Serverless in the Wild\", USENIX "
      "ATC 2020, CC-BY-4.0): %s; synthetic: %s, seeds %s\n",
      traces_note.c_str(), shape_list.c_str(), seed_list.c_str());
  std::string cold_list;
  for (double cs : cold_starts)
    cold_list += (cold_list.empty() ? "" : " and ") + number(cs) + " s";
  std::printf(
      "model: one call per replica at a time, target %.1f in flight per replica, "
      "cold start %s, same for every policy\n",
      settings.target, cold_list.c_str());
  std::printf(
      "kubefn: spec.scaling.coldStartCost %s replica-s per cold start (the default); "
      "the curve also at",
      number(default_cost).c_str());
  for (double c : costs)
    std::printf(" %s", number(c).c_str());
  std::printf("\n\n");

  // Each (trace, cold start, policy) cell sums its functions' runs; two threads share them.
  std::vector<Row> rows;
  std::map<std::tuple<std::string, double, std::string>, std::size_t> row_index;
  for (const auto& w : workloads) {
    for (double cs : cold_starts) {
      for (const auto& m : makers) {
        row_index[{w.name, cs, m.name}] = rows.size();
        rows.push_back(Row{w.name, cs, m.name, {}});
      }
    }
  }

  struct Job {
    const kb::Workload* w;
    std::size_t function;
    double cold_start_s;
  };
  std::vector<Job> jobs;
  for (const auto& w : workloads) {
    for (std::size_t f = 0; f < w.functions.size(); ++f) {
      for (double cs : cold_starts)
        jobs.push_back(Job{&w, f, cs});
    }
  }
  // Longest first, so the two threads finish together.
  auto weight = [](const Job& j) {
    const auto& f = j.w->functions[j.function];
    double n = static_cast<double>(f.arrivals.size());
    for (int c : f.per_minute)
      n += c;
    return n;
  };
  std::stable_sort(jobs.begin(), jobs.end(),
                   [&](const Job& a, const Job& b) { return weight(a) > weight(b); });
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
      {
        const double cs = job.cold_start_s;
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
                         "%-28s %-20s cs %.0f %-18s calls %9llu cold %7llu rs %10.0f p99 %.3f\n",
                         job.w->name.c_str(), f.name.c_str(), cs, m.name.c_str(),
                         static_cast<unsigned long long>(fig.calls),
                         static_cast<unsigned long long>(fig.cold_starts), fig.replica_seconds,
                         fig.wait_percentile_s(99));
          }
          rows[row_index.at({job.w->name, cs, m.name})].fig.add(fig);
        }
      }
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();

  auto row = [&](const std::string& trace, double cs, const std::string& policy) -> const Row& {
    return rows[row_index.at({trace, cs, policy})];
  };

  int passed = 0, missed = 0;
  auto goal = [&](bool ok, const std::string& what) {
    std::printf("  %s  %s\n", ok ? "PASS" : "MISS", what.c_str());
    (ok ? passed : missed)++;
  };
  // Per setting of the price: how it stands against the KPA clone over every trace run.
  std::vector<std::map<Versus, int>> tally(costs.size());
  std::map<Versus, int> default_tally;
  std::vector<std::string> worse_runs;  // the default worse on both axes: trace and cold start
  std::string versus_json;
  for (const auto& w : workloads) {
    for (double cs : cold_starts) {
      std::printf("%s (%s, %zu function%s), cold start %.0f s\n", w.name.c_str(), w.source.c_str(),
                  w.functions.size(), w.functions.size() == 1 ? "" : "s", cs);
      std::printf("  %-14s %10s %9s %8s %10s %14s %9s", "policy", "calls", "cold", "cold%",
                  "p99 wait", "replica-s", "overprov");
      if (w.step_at_s) std::printf(" %11s", "step->need");
      std::printf("\n");
      for (std::size_t p = 0; p < kPeers; ++p) {
        const std::string& name = makers[p].name;
        const kb::RunFigures& f = row(w.name, cs, name).fig;
        std::printf("  %-14s %10llu %9llu %7.3f%% %9.3fs %14.0f %9.2f", name.c_str(),
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

      // The curve: kubefn's cold starts against its replica-seconds at each price.
      std::printf("  %-26s", "kubefn coldStartCost");
      for (double c : costs)
        std::printf(" %9s", (number(c) + (c == default_cost ? "*" : "")).c_str());
      std::printf("\n  %-26s", "  cold starts");
      for (std::size_t i = 0; i < costs.size(); ++i)
        std::printf(" %9llu", static_cast<unsigned long long>(
                                  row(w.name, cs, curve_policy[i]).fig.cold_starts));
      std::printf("\n  %-26s", "  replica-s");
      for (std::size_t i = 0; i < costs.size(); ++i)
        std::printf(" %9.0f", row(w.name, cs, curve_policy[i]).fig.replica_seconds);
      std::printf("\n  %-26s", "  vs knative-kpa");
      for (std::size_t i = 0; i < costs.size(); ++i) {
        const Versus v = versus_kpa(row(w.name, cs, curve_policy[i]).fig, kpa);
        ++tally[i][v];
        const char* mark = v == Versus::kDominates     ? "dom"
                           : v == Versus::kTies        ? "tie"
                           : v == Versus::kTrades      ? "trade"
                           : v == Versus::kWeaklyWorse ? "worse1"
                                                       : "WORSE";
        std::printf(" %9s", mark);
      }
      std::printf("\n");
      const Versus v = versus_kpa(k, kpa);
      ++default_tally[v];
      if (v == Versus::kWorseOnBoth) worse_runs.push_back(w.name + " " + number(cs) + " s");
      std::printf("  default vs knative-kpa: %s (cold starts %llu vs %llu, replica-s x%.3f)\n",
                  to_string(v), static_cast<unsigned long long>(k.cold_starts),
                  static_cast<unsigned long long>(kpa.cold_starts),
                  kpa.replica_seconds > 0 ? k.replica_seconds / kpa.replica_seconds : 0.0);
      char vj[256];
      std::snprintf(vj, sizeof vj, "%s{\"trace\":\"%s\",\"cold_start_s\":%.0f,\"versus\":\"%s\"}",
                    versus_json.empty() ? "" : ",", json_escape(w.name).c_str(), cs, to_string(v));
      versus_json += vj;

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
  const std::size_t runs = workloads.size() * cold_starts.size();
  auto counts = [](std::map<Versus, int>& t) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%d dominate, %d tie, %d trade, %d tied-and-worse, %d worse on both",
                  t[Versus::kDominates], t[Versus::kTies], t[Versus::kTrades],
                  t[Versus::kWeaklyWorse], t[Versus::kWorseOnBoth]);
    return std::string(buf);
  };
  std::printf(
      "kubefn against knative-kpa over %zu trace runs (%zu traces x %zu cold starts), "
      "per coldStartCost:\n",
      runs, workloads.size(), cold_starts.size());
  for (std::size_t i = 0; i < costs.size(); ++i) {
    std::printf("  %6s%s %s\n", number(costs[i]).c_str(), costs[i] == default_cost ? "*" : " ",
                counts(tally[i]).c_str());
  }
  std::string worse_list;
  for (const auto& r : worse_runs)
    worse_list += (worse_list.empty() ? "" : ", ") + r;
  std::printf("default coldStartCost %s vs knative-kpa: %s on %zu trace runs: %s\n",
              number(default_cost).c_str(),
              worse_runs.empty() ? "never worse on both axes" : "WORSE ON BOTH AXES", runs,
              worse_runs.empty() ? counts(default_tally).c_str()
                                 : (counts(default_tally) + "; worse on " + worse_list).c_str());
  std::printf("goals: %d PASS, %d MISS; simulated in %.1f s\n", passed, missed, elapsed);

  std::string json =
      "{\"bench\":\"autoscale\",\"elapsed_s\":" + std::to_string(elapsed) + ",\"seeds\":[" +
      seed_list + "],\"default_cold_start_cost\":" + number(default_cost) +
      ",\"default_vs_kpa\":{\"dominates\":" + std::to_string(default_tally[Versus::kDominates]) +
      ",\"ties\":" + std::to_string(default_tally[Versus::kTies]) +
      ",\"trades\":" + std::to_string(default_tally[Versus::kTrades]) +
      ",\"tied_and_worse\":" + std::to_string(default_tally[Versus::kWeaklyWorse]) +
      ",\"worse_on_both\":" + std::to_string(default_tally[Versus::kWorseOnBoth]) +
      "},\"goals_pass\":" + std::to_string(passed) + ",\"goals_miss\":" + std::to_string(missed) +
      ",\"versus\":[" + versus_json + "],\"rows\":[";
  bool first = true;
  std::map<std::string, double> cost_of;
  for (std::size_t i = 0; i < costs.size(); ++i)
    cost_of[curve_policy[i]] = costs[i];
  cost_of["kubefn"] = default_cost;
  for (const Row& r : rows) {
    const auto& f = r.fig;
    char buf[640];
    const auto c = cost_of.find(r.policy);
    const std::string cost = c == cost_of.end() ? "" : ",\"cold_start_cost\":" + number(c->second);
    std::snprintf(buf, sizeof buf,
                  "%s{\"trace\":\"%s\",\"cold_start_s\":%.0f,\"policy\":\"%s\"%s,\"calls\":%llu,"
                  "\"cold_starts\":%llu,\"cold_fraction\":%.6f,\"p99_wait_s\":%.3f,"
                  "\"replica_seconds\":%.0f,\"overprovisioning\":%.3f,\"step_decision_s\":%.0f}",
                  first ? "" : ",", json_escape(r.trace).c_str(), r.cold_start_s, r.policy.c_str(),
                  cost.c_str(), static_cast<unsigned long long>(f.calls),
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
