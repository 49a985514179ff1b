// Schedules through the Dispatcher, on a fake API and a fake clock: each run claimed once in the
// Function's status, however many dispatchers run and whenever one restarts.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <deque>
#include <map>

#include "kubefn/api/function.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::dispatch {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Answers each call with the next scripted status (200 once the script is done).
class FakeCaller final : public delivery::FunctionCaller {
 public:
  struct Call {
    std::string ns, function;
    delivery::Event event;
    int attempt;
  };
  delivery::CallResult call(const std::string& ns, const std::string& function,
                            const delivery::Event& event, int attempt,
                            std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({ns, function, event, attempt});
    if (script_.empty()) return {200, "", std::nullopt};
    delivery::CallResult r = script_.front();
    script_.pop_front();
    return r;
  }
  void script(std::vector<delivery::CallResult> answers) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.assign(answers.begin(), answers.end());
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::size_t count() const { return calls().size(); }

 private:
  mutable std::mutex mu_;
  std::deque<delivery::CallResult> script_;
  std::vector<Call> calls_;
};

json function_with(json schedules) {
  return {{"apiVersion", "kubefn.dev/v1alpha1"},
          {"kind", "Function"},
          {"metadata", {{"name", "report"}, {"namespace", "shop"}, {"uid", "u1"}}},
          {"spec",
           {{"handler", "report.run"},
            {"source", {{"inline", "x"}}},
            {"triggers", {{"schedules", std::move(schedules)}}}}}};
}

class ScheduleTest : public ::testing::Test {
 protected:
  std::unique_ptr<Dispatcher> dispatcher() {
    auto d = std::make_unique<Dispatcher>(api_, clock_, events_, caller_, registry_,
                                          DispatcherOptions{});
    d->start();
    return d;
  }
  json live() { return api_.get({api::functions(), "shop", "report"}).value(); }
  json entry(const std::string& trigger) {
    const json fn = live();
    if (!fn.contains("status") || !fn["status"].is_object()) return json::object();
    for (const json& e : fn["status"].value("triggers", json::array())) {
      if (e.value("name", "") == trigger) return e;
    }
    return json::object();
  }
  // Moves the clock once every runner is parked on it.
  void advance(kube::Clock::Duration d, std::size_t parked = 1) {
    ASSERT_TRUE(testing::wait_until([&] { return clock_.waiters() >= parked; }, 10s));
    clock_.advance(d);
  }
  bool calls_reach(std::size_t n) {
    return testing::wait_until([&] { return caller_.count() >= n; }, 10s);
  }

  testing::FakeKubeClient api_;
  kube::FakeClock clock_;
  testing::RecordingEvents events_;
  FakeCaller caller_;
  prometheus::Registry registry_;
};

TEST_F(ScheduleTest, AnInvalidScheduleRunsNothing) {
  api_.put_object(api::functions(), function_with({{{"name", "bad"}, {"schedule", "61 * * * *"}}}));
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return api_.calls("watch") >= 1; }, 10s));  // synced
  EXPECT_EQ(d->running_triggers(), 0u);
  clock_.advance(2h);
  EXPECT_EQ(caller_.count(), 0u);
}

TEST_F(ScheduleTest, EachRunIsCalledOnceWithItsEventAndRecordedDone) {
  api_.put_object(
      api::functions(),
      function_with(
          {{{"name", "tick"}, {"schedule", "@every 10s"}, {"payload", {{"report", "daily"}}}}}));
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return entry("tick").contains("lastScheduleTime"); }, 10s));
  const std::string started = entry("tick")["lastScheduleTime"];
  for (int i = 1; i <= 3; ++i) {
    advance(10s, 1);  // the runner
    ASSERT_TRUE(calls_reach(static_cast<std::size_t>(i)));
  }
  ASSERT_TRUE(testing::wait_until(
      [&] {
        return entry("tick").value("lastCompletedTime", "") ==
                   entry("tick").value("lastScheduleTime", "") &&
               entry("tick").value("lastScheduleTime", "") != started;
      },
      10s));
  const auto calls = caller_.calls();
  ASSERT_EQ(calls.size(), 3u);
  std::set<std::string> ids;
  for (const auto& c : calls) {
    EXPECT_EQ(c.ns, "shop");
    EXPECT_EQ(c.function, "report");
    EXPECT_EQ(c.attempt, 1);
    EXPECT_EQ(c.event.type, "dev.kubefn.schedule.run");
    EXPECT_EQ(c.event.source, "/schedules/shop/report/tick");
    EXPECT_EQ(c.event.body, R"({"report":"daily"})");
    EXPECT_EQ(c.event.content_type, "application/json");
    EXPECT_EQ(c.event.kubeless_namespace, "schedules.triggers.kubefn.dev");
    ids.insert(c.event.id);
  }
  EXPECT_EQ(ids.size(), 3u);
  // 10 s apart, on the schedule.
  EXPECT_EQ(calls[1].event.time - calls[0].event.time, 10s);
  EXPECT_EQ(calls[2].event.time - calls[1].event.time, 10s);
}

TEST_F(ScheduleTest, TwoDispatchersNeverBothRunOneScheduledTime) {
  api_.put_object(api::functions(),
                  function_with({{{"name", "tick"}, {"schedule", "@every 10s"}}}));
  auto a = dispatcher();
  auto b = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return entry("tick").contains("lastScheduleTime"); }, 10s));
  for (int i = 1; i <= 5; ++i) {
    advance(10s, 2);
    ASSERT_TRUE(calls_reach(static_cast<std::size_t>(i)));
    // Both have looked at this time before the next.
    ASSERT_TRUE(testing::wait_until([&] { return clock_.waiters() >= 2; }, 10s));
  }
  std::map<std::string, int> per_id;
  for (const auto& c : caller_.calls())
    ++per_id[c.event.id];
  EXPECT_EQ(per_id.size(), 5u);
  for (const auto& [id, n] : per_id)
    EXPECT_EQ(n, 1) << id;
}

TEST_F(ScheduleTest, ARestartMakesUpOneMissedRunAndRepeatsNone) {
  api_.put_object(api::functions(),
                  function_with({{{"name", "tick"}, {"schedule", "@every 10s"}}}));
  auto a = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return entry("tick").contains("lastScheduleTime"); }, 10s));
  advance(10s, 1);
  ASSERT_TRUE(calls_reach(1));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        return entry("tick").value("lastCompletedTime", "") ==
               entry("tick").value("lastScheduleTime", "");
      },
      10s));
  a.reset();
  clock_.advance(35s);  // three runs due while no dispatcher runs
  auto b = dispatcher();
  ASSERT_TRUE(calls_reach(2));
  ASSERT_TRUE(testing::wait_until([&] { return clock_.waiters() >= 1; }, 10s));
  EXPECT_EQ(caller_.count(), 2u);  // one catch-up, not three
  const auto calls = caller_.calls();
  EXPECT_EQ(calls[1].event.time - calls[0].event.time, 30s);  // the most recent missed run
}

TEST_F(ScheduleTest, AClaimedRunLeftUnfinishedIsDeliveredAgainWithItsId) {
  json fn = function_with({{{"name", "tick"}, {"schedule", "@every 1h"}}});
  const std::string t = "2026-12-01T10:00:00Z";
  fn["status"]["triggers"] = {
      {{"name", "tick"}, {"lastScheduleTime", t}, {"lastCompletedTime", "2026-12-01T09:00:00Z"}}};
  api_.put_object(api::functions(), fn);
  auto d = dispatcher();
  ASSERT_TRUE(calls_reach(1));
  ASSERT_TRUE(
      testing::wait_until([&] { return entry("tick").value("lastCompletedTime", "") == t; }, 10s));
  const auto calls = caller_.calls();
  ASSERT_GE(calls.size(), 1u);
  EXPECT_EQ(delivery::rfc3339(calls[0].event.time), "2026-12-01T10:00:00.000Z");
  EXPECT_NE(calls[0].event.id.find("-1796119200"), std::string::npos) << calls[0].event.id;
}

TEST_F(ScheduleTest, FailuresAreRetriedThenGivenUpLoudly) {
  api_.put_object(api::functions(), function_with({{{"name", "tick"},
                                                    {"schedule", "@every 1m"},
                                                    {"maxRetries", 2},
                                                    {"retryBackoff", "1s"}}}));
  caller_.script({{500, "HTTP 500: boom", std::nullopt},
                  {0, "no answer within 5000 ms", std::nullopt},
                  {503, "HTTP 503", std::nullopt}});
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return entry("tick").contains("lastScheduleTime"); }, 10s));
  advance(1min, 1);
  ASSERT_TRUE(calls_reach(1));
  advance(1s, 2);  // the runner and the run's backoff
  ASSERT_TRUE(calls_reach(2));
  advance(2s, 2);
  ASSERT_TRUE(calls_reach(3));
  ASSERT_TRUE(testing::wait_until([&] { return events_.has("DeliveryFailed"); }, 10s));
  ASSERT_TRUE(testing::wait_until(
      [&] { return entry("tick").value("message", "").find("HTTP 503") != std::string::npos; },
      10s));
  const auto calls = caller_.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].attempt, 1);
  EXPECT_EQ(calls[2].attempt, 3);
  EXPECT_EQ(calls[0].event.id, calls[2].event.id);
  EXPECT_NE(events_.events().back().message.find("failed 3 time(s)"), std::string::npos)
      << events_.events().back().message;
}

TEST_F(ScheduleTest, ThrottlingWaitsWithoutSpendingRetries) {
  api_.put_object(
      api::functions(),
      function_with({{{"name", "tick"}, {"schedule", "@every 1m"}, {"maxRetries", 0}}}));
  caller_.script({{429, "HTTP 429", 1s}, {503, "HTTP 503", 1s}});
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return entry("tick").contains("lastScheduleTime"); }, 10s));
  advance(1min, 1);
  ASSERT_TRUE(calls_reach(1));
  advance(1s, 2);
  ASSERT_TRUE(calls_reach(2));
  advance(1s, 2);
  ASSERT_TRUE(calls_reach(3));
  ASSERT_TRUE(testing::wait_until(
      [&] {
        return entry("tick").value("lastCompletedTime", "") ==
               entry("tick").value("lastScheduleTime", "");
      },
      10s));
  EXPECT_FALSE(events_.has("DeliveryFailed"));
  for (const auto& c : caller_.calls())
    EXPECT_EQ(c.attempt, 1);
}

TEST_F(ScheduleTest, DeletingTheFunctionStopsItsSchedules) {
  api_.put_object(api::functions(),
                  function_with({{{"name", "tick"}, {"schedule", "@every 10s"}}}));
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return d->running_triggers() == 1; }, 10s));
  ASSERT_TRUE(api_.remove({api::functions(), "shop", "report"}, {}).ok());
  ASSERT_TRUE(testing::wait_until([&] { return d->running_triggers() == 0; }, 10s));
}

TEST_F(ScheduleTest, StatusWritesDoNotReadATriggersSecretAgainANewGenerationDoes) {
  std::atomic<int> secret_reads{0};
  api_.on("get", [&](const testing::FakeKubeClient::Call& c) -> std::optional<kube::Status> {
    if (c.resource.resource == "secrets") ++secret_reads;
    return std::nullopt;
  });
  api_.put_object(kube::resources::secrets(),
                  {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "creds"}, {"namespace", "shop"}}},
                   {"stringData", {{"url", "nats://127.0.0.1:1"}}}});
  json fn = function_with(json::array());
  fn["metadata"]["generation"] = 1;
  fn["spec"]["triggers"] = {{"nats", {{{"name", "in"}, {"secret", "creds"}, {"stream", "S"}}}}};
  api_.put_object(api::functions(), fn);
  auto d = dispatcher();
  ASSERT_TRUE(testing::wait_until([&] { return d->running_triggers() == 1; }, 10s));
  EXPECT_EQ(secret_reads, 1);
  for (int i = 0; i < 5; ++i) {  // status writes: the same generation
    json now = live();
    now["status"]["replicas"] = i;
    api_.put_object(api::functions(), now);
  }
  json next = live();
  next["metadata"]["generation"] = 2;
  next["spec"]["timeout"] = 30;
  api_.put_object(api::functions(), next);
  // Events come in order: once generation 2 was read, the status writes were seen before it.
  ASSERT_TRUE(testing::wait_until([&] { return secret_reads >= 2; }, 10s));
  EXPECT_EQ(secret_reads, 2);
}

}  // namespace
}  // namespace kubefn::dispatch
