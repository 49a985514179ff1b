// Two dispatchers (two replicas of the chart's Deployment, or an old and a new one in a
// rollout) on one API and one real nats-server: a queue trigger's durable consumer and a
// function's asynchronous-call consumer are each shared, so the two split the messages, and
// every message is done once its call answered 2xx, whichever dispatcher took it.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kubefn/api/function.hpp"
#include "kubefn/async/call.hpp"
#include "kubefn/async/call_store.hpp"
#include "kubefn/dispatch/dispatcher.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/fakes/recording_events.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::dispatch {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Answers 200 after a few milliseconds (so both dispatchers have work in flight), keeping what
// each call carried: an event's id, or an asynchronous call's id.
class RecordingCaller final : public delivery::FunctionCaller {
 public:
  delivery::CallResult call(const std::string&, const std::string&, const delivery::Event& event,
                            int, std::chrono::milliseconds) override {
    std::this_thread::sleep_for(2ms);
    std::lock_guard<std::mutex> lock(mu_);
    ++events_[event.body];
    return {200, "", std::nullopt};
  }
  delivery::CallResult send(const std::string&, const std::string&,
                            const delivery::Request& request, std::chrono::milliseconds) override {
    std::this_thread::sleep_for(2ms);
    std::string id;
    for (const auto& [name, value] : request.headers)
      if (name == "Kubefn-Call-Id") id = value;
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[id];
    return {200, "", std::nullopt, "text/plain", "done " + request.body};
  }
  std::map<std::string, int> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::map<std::string, int> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> events_;  // by body
  std::map<std::string, int> calls_;   // by call id
};

class SharedConsumers : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = nats::Connection::connect([&] {
      nats::Options o;
      o.url = server_.url();
      return o;
    }());
    ASSERT_TRUE(c.ok()) << c.status().message();
    conn_.emplace(std::move(c).value());
    js_.emplace(*conn_);
  }
  std::unique_ptr<Dispatcher> dispatcher(RecordingCaller& caller, prometheus::Registry& registry) {
    DispatcherOptions o;
    o.async_nats_url = server_.url();
    auto d = std::make_unique<Dispatcher>(api_, clock_, events_, caller, registry, o);
    d->start();
    return d;
  }
  void apply(json triggers) {
    json fn = {
        {"apiVersion", "kubefn.dev/v1alpha1"},
        {"kind", "Function"},
        {"metadata", {{"name", "orders"}, {"namespace", "shop"}, {"uid", "u1"}, {"generation", 1}}},
        {"spec",
         {{"handler", "orders.take"},
          {"source", {{"inline", "x"}}},
          {"concurrency", 4},
          {"scaling", {{"maxReplicas", 2}}}}}};
    if (!triggers.is_null()) fn["spec"]["triggers"] = std::move(triggers);
    api_.put_object(api::functions(), fn);
  }

  testing::NatsServer server_;
  std::optional<nats::Connection> conn_;
  std::optional<nats::JetStream> js_;
  testing::FakeKubeClient api_;
  kube::RealClock clock_;
  testing::RecordingEvents events_;
};

TEST_F(SharedConsumers, TwoDispatchersSplitAQueueTriggersMessagesAndLoseNone) {
  nats::StreamConfig s;
  s.name = "ORDERS";
  s.subjects = {"orders.>"};
  ASSERT_TRUE(js_->create_or_update_stream(s).ok());
  apply({{"nats",
          {{{"name", "created"},
            {"url", server_.url()},
            {"stream", "ORDERS"},
            {"subject", "orders.created"}}}}});
  RecordingCaller a, b;
  prometheus::Registry ra, rb;
  auto da = dispatcher(a, ra);
  auto db = dispatcher(b, rb);
  // Both run the trigger on the same durable consumer before anything is published.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto info = js_->consumer_info("ORDERS", "kubefn-shop-orders-created");
        return info.ok() && info.value().num_waiting >= 2;
      },
      20s));
  constexpr int kMessages = 300;
  for (int i = 1; i <= kMessages; ++i)
    ASSERT_TRUE(js_->publish("orders.created", std::to_string(i)).ok());
  auto done = [&] {
    std::set<std::string> all;
    for (const auto* c : {&a, &b})
      for (const auto& [body, n] : c->events())
        all.insert(body);
    return all.size();
  };
  ASSERT_TRUE(testing::wait_until([&] { return done() == kMessages; }, 60s)) << done();
  EXPECT_GT(a.events().size(), 0u) << "one dispatcher took everything";
  EXPECT_GT(b.events().size(), 0u) << "one dispatcher took everything";
  // Every one acknowledged: nothing pending or waiting for an ack.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto info = js_->consumer_info("ORDERS", "kubefn-shop-orders-created");
        return info.ok() && info.value().backlog() == 0;
      },
      20s));
  int twice = 0;
  for (const auto* c : {&a, &b})
    for (const auto& [body, n] : c->events())
      twice += n - 1;
  for (const auto& [body, n] : a.events())
    twice += b.events().count(body);
  EXPECT_EQ(twice, 0) << "a message delivered twice while both ran";
  std::cout << "two dispatchers: " << a.events().size() << " + " << b.events().size()
            << " messages\n";
}

TEST_F(SharedConsumers, TwoDispatchersSplitAFunctionsAsynchronousCalls) {
  apply(nullptr);  // no trigger: asynchronous calls only
  RecordingCaller a, b;
  prometheus::Registry ra, rb;
  auto da = dispatcher(a, ra);
  auto db = dispatcher(b, rb);
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto info = js_->consumer_info(async::kCallStream, "kubefn-async-shop-orders");
        return info.ok() && info.value().num_waiting >= 2;
      },
      20s));
  async::CallStore store(*conn_);
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    async::Call c;
    c.id = async::new_call_id();
    c.ns = "shop";
    c.function = "orders";
    c.body = std::to_string(i);
    c.queued_at = std::chrono::system_clock::now();
    ASSERT_TRUE(store.enqueue(c).ok());
    ids.insert(c.id);
  }
  auto done = [&] {
    std::set<std::string> all;
    for (const auto* c : {&a, &b})
      for (const auto& [id, n] : c->calls())
        all.insert(id);
    return all;
  };
  ASSERT_TRUE(testing::wait_until([&] { return done() == ids; }, 60s)) << done().size();
  EXPECT_GT(a.calls().size(), 0u);
  EXPECT_GT(b.calls().size(), 0u);
  // Each one's state says it succeeded, with the function's answer.
  for (const std::string& id : ids) {
    ASSERT_TRUE(testing::wait_until(
        [&] {
          auto st = store.state("shop", "orders", id);
          return st.ok() && st.value().state == async::State::kSucceeded;
        },
        10s))
        << id;
  }
  auto one = store.state("shop", "orders", *ids.begin());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value().result.rfind("done ", 0), 0u);
  EXPECT_EQ(one.value().attempts, 1);
  // Done calls leave the work queue.
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto info = js_->stream_info(async::kCallStream);
        return info.ok() && info.value().state.messages == 0;
      },
      20s));
}

}  // namespace
}  // namespace kubefn::dispatch
