// Chaos on the real control plane: while 1,000 Functions are created, updated and deleted with
// kubectl, the operator is killed with SIGKILL at random moments (at least 20 times) and
// restarted, and kube-apiserver itself is restarted once. Afterwards the operator must
// converge: exactly one Deployment and one Service per live Function and nothing of a deleted
// one (no orphans, no duplicates), every Function Ready at its own generation.
//
// KUBEFN_CHAOS_FUNCTIONS sets the count (default 1000). The figures are printed as one line
// starting "chaos:".
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "operator_fixture.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

int chaos_count() {
  const char* env = std::getenv("KUBEFN_CHAOS_FUNCTIONS");
  return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 1000;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class OperatorChaos : public OperatorE2E {
 protected:
  json get_all(const std::string& kinds) {
    auto r = kubectl({"get", kinds, "-l", "kubefn.dev/function", "-o", "json"});
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json();
  }

  // Applies `functions` (name -> image) in batches of 100 documents.
  bool apply_batch(const std::vector<std::pair<std::string, std::string>>& functions) {
    for (std::size_t i = 0; i < functions.size(); i += 100) {
      std::string docs;
      for (std::size_t j = i; j < std::min(functions.size(), i + 100); ++j) {
        docs += function_yaml(functions[j].first,
                              "  handler: f.run\n  image: " + functions[j].second + "\n") +
                "---\n";
      }
      // The API server restarts once meanwhile: a batch that met it down is sent again.
      bool done = wait_until([&] { return kubectl({"apply", "-f", "-"}, docs).exit_code == 0; },
                             seconds(120), std::chrono::milliseconds(500));
      if (!done) return false;
    }
    return true;
  }
};

TEST_P(OperatorChaos, ConvergesAfterKillsAndAnApiServerRestart) {
  const int n = chaos_count();
  const auto started = Clock::now();
  std::mt19937 rng(std::random_device{}());

  std::unique_ptr<ChildProcess> op;
  int runs = 0;
  // A start may meet kube-apiserver down (its restart): try again until one serves.
  auto start = [&] {
    return wait_until(
        [&] {
          const std::string name = "op" + std::to_string(runs++);
          return start_operator(op, name, {"--workers", "4"}) != 0;
        },
        seconds(120), std::chrono::milliseconds(500));
  };
  ASSERT_TRUE(start()) << operator_log("op0");

  std::atomic<bool> writing{true};
  std::atomic<int> kills{0};
  std::atomic<bool> restarted_apiserver{false};
  std::string restart_error;
  // The killer: SIGKILL at a random moment 0.2-1.5 s into each run, then a fresh operator;
  // once, halfway, kube-apiserver goes down and comes back.
  std::thread killer([&] {
    std::uniform_int_distribution<int> pause_ms(200, 1500);
    while (writing.load() || kills.load() < 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
      op->signal(SIGKILL);
      op->wait_exit(seconds(10));
      ++kills;
      if (kills.load() == 10) {
        auto r = run_command({std::string(KUBEFN_SOURCE_DIR) + "/scripts/cluster", "restart",
                              "kube-apiserver"},
                             {}, seconds(120));
        if (r.exit_code == 0) {
          restarted_apiserver = true;
        } else {
          restart_error = r.err;
        }
      }
      if (!start()) return;
    }
  });

  // The writer: create all, update every other one (a new generation), delete every fifth.
  std::vector<std::pair<std::string, std::string>> all;
  for (int i = 0; i < n; ++i) {
    all.emplace_back("c" + std::to_string(i), "registry.local/chaos:" + std::to_string(i));
  }
  bool created = apply_batch(all);
  std::vector<std::pair<std::string, std::string>> updates;
  for (int i = 0; i < n; i += 2) {
    updates.emplace_back(all[i].first, "registry.local/chaos:" + std::to_string(i) + "-v2");
  }
  bool updated = apply_batch(updates);
  std::set<std::string> deleted;
  bool deletes_ok = true;
  for (int i = 0; i < n; i += 50) {
    std::vector<std::string> args = {"delete", "fn", "--wait=false"};
    for (int j = i; j < std::min(n, i + 50); j += 5) {
      args.push_back(all[j].first);
      deleted.insert(all[j].first);
    }
    deletes_ok = deletes_ok && wait_until([&] { return kubectl(args).exit_code == 0; },
                                          seconds(120), std::chrono::milliseconds(500));
  }
  const double writes_done = seconds_since(started);
  writing = false;
  killer.join();
  ASSERT_TRUE(created && updated && deletes_ok) << "kubectl could not write the Functions";
  ASSERT_TRUE(restarted_apiserver) << restart_error;
  ASSERT_GE(kills.load(), 20);
  ASSERT_TRUE(op->running() || start()) << operator_log("op" + std::to_string(runs - 1));

  // Convergence: every live Function Ready at its generation, objects one to one.
  const std::size_t live = all.size() - deleted.size();
  std::string last_problem;
  const bool converged = wait_until(
      [&] {
        auto listed = kubectl({"get", "fn", "-o", "json"});
        json every = json::parse(listed.out, nullptr, false);
        if (!every.is_object()) return false;
        std::size_t ready = 0;
        for (const auto& fn : every["items"]) {
          const auto& status = fn.value("status", json::object());
          if (status.value("observedGeneration", 0) != fn["metadata"].value("generation", -1)) {
            continue;
          }
          for (const auto& c : status.value("conditions", json::array())) {
            if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ++ready;
          }
        }
        last_problem = std::to_string(ready) + " of " + std::to_string(every["items"].size()) +
                       " Functions Ready at their generation (want " + std::to_string(live) + ")";
        return every["items"].size() == live && ready == live;
      },
      seconds(600), std::chrono::seconds(2));
  const double converged_at = seconds_since(started);
  EXPECT_TRUE(converged) << last_problem;

  // Objects: one Deployment and one Service per live Function, none for a deleted one; the
  // garbage collector removes a deleted Function's objects, so wait for it to finish.
  std::size_t orphans = 0, duplicates = 0, missing = 0;
  auto count_objects = [&] {
    orphans = duplicates = missing = 0;
    for (const std::string kind : {"deploy", "svc"}) {
      json objects = get_all(kind);
      if (!objects.is_object()) return false;
      std::map<std::string, int> per_function;
      for (const auto& o : objects["items"]) {
        ++per_function[o["metadata"]["labels"].value("kubefn.dev/function", "")];
      }
      for (const auto& [fn, count] : per_function) {
        if (deleted.count(fn) != 0) {
          orphans += count;
        } else if (count > 1) {
          duplicates += count - 1;
        }
      }
      for (const auto& [fn, image] : all) {
        if (deleted.count(fn) == 0 && per_function.count(fn) == 0) ++missing;
      }
    }
    return orphans == 0 && duplicates == 0 && missing == 0;
  };
  EXPECT_TRUE(wait_until(count_objects, seconds(120), std::chrono::seconds(1)))
      << orphans << " orphaned, " << duplicates << " duplicated, " << missing << " missing";
  // Updated Functions run their new image.
  json deployments = get_all("deploy");
  std::size_t stale = 0;
  for (const auto& d : deployments["items"]) {
    const std::string fn = d["metadata"]["labels"].value("kubefn.dev/function", "");
    const int i = std::stoi(fn.substr(1));
    const std::string want =
        "registry.local/chaos:" + std::to_string(i) + (i % 2 == 0 ? "-v2" : "");
    if (d["spec"]["template"]["spec"]["containers"][0].value("image", "") != want) ++stale;
  }
  EXPECT_EQ(stale, 0u);

  std::printf(
      "chaos: %d Functions (%zu updated, %zu deleted), %d operator kills, kube-apiserver "
      "restarted once; writes done at %.1f s, converged at %.1f s; %zu orphaned, %zu "
      "duplicated, %zu missing, %zu stale\n",
      n, updates.size(), deleted.size(), kills.load(), writes_done, converged_at, orphans,
      duplicates, missing, stale);
}

// Only against the real control plane: the emulator cannot be restarted under its clients.
KUBEFN_ON_CLUSTER(OperatorChaos);

}  // namespace
}  // namespace kubefn::testing
