// Crash test of the durable store: a kube-emulator process with --data-dir takes a stream of
// ConfigMap creates, updates and deletes from several writers, is killed with SIGKILL at a
// random point, and is started again on the same folder. Every write it answered must be there
// as answered (value, uid, resourceVersion); a write in flight when it died may or may not be;
// nothing else may appear; resourceVersions after the restart are above all before it.
// The seed is printed; KUBEFN_CRASH_SEED=<seed> replays the same choices.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kConfigMaps = "/api/v1/namespaces/default/configmaps";
constexpr int kWriters = 4;
constexpr int kNamesPerWriter = 12;
constexpr int kRounds = 4;

struct State {
  bool exists = false;
  std::string value;
  std::string uid;
  uint64_t rv = 0;
};

struct Attempt {
  enum class Op { kCreate, kUpdate, kDelete } op;
  std::string value;
};

// One name's history as the writers saw it. Each name belongs to one writer.
struct Name {
  State acked;
  std::optional<Attempt> in_flight;  // sent, never answered
  std::set<std::string> attempted;   // every value ever sent for it
};

uint64_t rv_of(const json& obj) {
  return std::stoull(obj["metadata"]["resourceVersion"].get<std::string>());
}

std::string describe(const State& s) {
  return s.exists ? "{" + s.value + " uid " + s.uid + " rv " + std::to_string(s.rv) + "}"
                  : "{absent}";
}

class CrashTest : public ::testing::Test {
 protected:
  // Starts kube-emulator on the data folder; its port, or 0.
  uint16_t start(int round) {
    const std::string out = dir_.file("emu-" + std::to_string(round) + ".out");
    const std::string err = dir_.file("emu-" + std::to_string(round) + ".err");
    emu_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{KUBEFN_EMULATOR_BIN, "--port", "0", "--data-dir", data_},
        std::map<std::string, std::string>{}, out, err);
    std::string url;
    wait_until(
        [&] {
          const std::string text = read_file(out);
          const auto nl = text.find('\n');
          if (nl == std::string::npos) return !emu_->running();
          url = text.substr(0, nl);
          return true;
        },
        seconds(10));
    const auto colon = url.rfind(':');
    if (url.empty() || colon == std::string::npos) {
      ADD_FAILURE() << "kube-emulator did not start: " << read_file(err);
      return 0;
    }
    return static_cast<uint16_t>(std::stoi(url.substr(colon + 1)));
  }

  // After a restart: every name is as last answered, or as its in-flight write left it.
  void check_recovered(uint16_t port, uint64_t* highest) {
    for (auto& [name, n] : names_) {
      auto r = http_request(port, "GET", kConfigMaps + "/" + name);
      ASSERT_TRUE(r.has_value()) << name;
      ASSERT_TRUE(r->status == 200 || r->status == 404) << r->status << " " << r->body;
      State now;
      if (r->status == 200) {
        const json obj = json::parse(r->body);
        now = State{true, obj["data"].value("v", ""), obj["metadata"].value("uid", ""), rv_of(obj)};
        *highest = std::max(*highest, now.rv);
      }
      const State& was = n.acked;
      const bool as_acked =
          now.exists == was.exists &&
          (!now.exists || (now.value == was.value && now.uid == was.uid && now.rv == was.rv));
      bool as_in_flight = false;
      if (n.in_flight) {
        switch (n.in_flight->op) {
          case Attempt::Op::kCreate:
            as_in_flight = now.exists && now.value == n.in_flight->value;
            break;
          case Attempt::Op::kUpdate:
            as_in_flight = now.exists && now.value == n.in_flight->value && now.uid == was.uid;
            break;
          case Attempt::Op::kDelete:
            as_in_flight = !now.exists;
            break;
        }
      }
      EXPECT_TRUE(as_acked || as_in_flight)
          << name << ": acknowledged " << describe(was) << ", in flight "
          << (n.in_flight ? n.in_flight->value : std::string("none")) << ", found "
          << describe(now);
      n.acked = now;
      n.in_flight.reset();
    }
    // Nothing that was never written: only our names, only values sent for them.
    auto list = http_request(port, "GET", kConfigMaps);
    ASSERT_TRUE(list.has_value());
    ASSERT_EQ(list->status, 200) << list->body;
    for (const auto& item : json::parse(list->body)["items"]) {
      const std::string name = item["metadata"]["name"].get<std::string>();
      const auto it = names_.find(name);
      ASSERT_NE(it, names_.end()) << "never written: " << name;
      EXPECT_TRUE(it->second.attempted.count(item["data"].value("v", "")))
          << name << " holds a value never sent: " << item.dump();
    }
  }

  // One writer's stream until the server stops answering or `stop` is set.
  void write(uint16_t port, int writer, int round, uint64_t seed, std::atomic<int>* acked,
             std::atomic<bool>* stop, uint64_t* lowest_rv) {
    std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(round * 100 + writer));
    for (int seq = 0; !stop->load(); ++seq) {
      const std::string name =
          "w" + std::to_string(writer) + "-" + std::to_string(rng() % kNamesPerWriter);
      Name& n = names_.at(name);
      Attempt a{Attempt::Op::kCreate, "r" + std::to_string(round) + "-w" + std::to_string(writer) +
                                          "-" + std::to_string(seq)};
      if (n.acked.exists) a.op = rng() % 10 < 7 ? Attempt::Op::kUpdate : Attempt::Op::kDelete;
      const json body = {{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", {{"name", name}}},
                         {"data", {{"v", a.value}}}};
      n.attempted.insert(a.value);
      n.in_flight = a;
      std::optional<HttpReply> r;
      const std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
      switch (a.op) {
        case Attempt::Op::kCreate:
          r = http_request(port, "POST", kConfigMaps, body.dump(), headers, seconds(10));
          break;
        case Attempt::Op::kUpdate:
          r = http_request(port, "PUT", kConfigMaps + "/" + name, body.dump(), headers,
                           seconds(10));
          break;
        case Attempt::Op::kDelete:
          r = http_request(port, "DELETE", kConfigMaps + "/" + name, "", {}, seconds(10));
          break;
      }
      if (!r.has_value()) return;  // the server died under it: the write stays in flight
      const int want = a.op == Attempt::Op::kCreate ? 201 : 200;
      if (r->status != want) {
        ADD_FAILURE() << name << ": " << r->status << " " << r->body;
        stop->store(true);
        return;
      }
      if (a.op == Attempt::Op::kDelete) {
        n.acked = State{};
      } else {
        const json obj = json::parse(r->body);
        n.acked = State{true, a.value, obj["metadata"].value("uid", ""), rv_of(obj)};
        *lowest_rv = std::min(*lowest_rv, n.acked.rv);
      }
      n.in_flight.reset();
      ++*acked;
    }
  }

  TempDir dir_;
  std::string data_ = dir_.file("api");
  std::unique_ptr<ChildProcess> emu_;
  std::map<std::string, Name> names_;
};

TEST_F(CrashTest, EveryAcknowledgedWriteSurvivesSigkill) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("KUBEFN_CRASH_SEED"); s != nullptr && *s != '\0')
    seed = std::strtoull(s, nullptr, 10);
  std::cout << "crash test seed " << seed << " (KUBEFN_CRASH_SEED=" << seed << " replays it)\n";
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("KUBEFN_CRASH_SEED=" + std::to_string(seed));
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kNamesPerWriter; ++i)
      names_["w" + std::to_string(w) + "-" + std::to_string(i)];
  }
  std::mt19937_64 rng(seed);
  uint64_t highest_before = 0;  // the highest resourceVersion seen so far
  int total_acked = 0;
  for (int round = 0; round <= kRounds; ++round) {
    const uint16_t port = start(round);
    ASSERT_NE(port, 0);
    if (round > 0) check_recovered(port, &highest_before);
    if (HasFailure() || round == kRounds) break;

    std::atomic<int> acked{0};
    std::atomic<bool> stop{false};
    std::vector<uint64_t> lowest(kWriters, UINT64_MAX);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back([&, w] { write(port, w, round, seed, &acked, &stop, &lowest[w]); });
    const int kill_after = 50 + static_cast<int>(rng() % 250);
    EXPECT_TRUE(wait_until([&] { return acked.load() >= kill_after || stop.load(); }, seconds(30),
                           std::chrono::milliseconds(1)))
        << "round " << round << ": only " << acked.load() << " writes answered";
    emu_->signal(SIGKILL);
    EXPECT_TRUE(emu_->wait_exit(seconds(10)).has_value());
    stop = true;
    for (auto& t : writers)
      t.join();
    total_acked += acked.load();
    for (const uint64_t rv : lowest) {
      if (rv != UINT64_MAX) {
        EXPECT_GT(rv, highest_before) << "round " << round << ": a resourceVersion went back";
      }
    }
    for (const auto& [name, n] : names_)
      highest_before = std::max(highest_before, n.acked.rv);
  }
  std::cout << total_acked << " acknowledged writes over " << kRounds << " SIGKILLs\n";
}

}  // namespace
}  // namespace kubefn::testing
