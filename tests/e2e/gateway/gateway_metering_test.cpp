// The gateway meters every call it admits, through real kubefn-runtime replicas: outcomes,
// the runtime's own execution time rounded up to the price sheet's granularity, GB-seconds at
// the function's memory size, cold starts and their waits, and each replica's busy time.
#include <gtest/gtest.h>

#include <future>

#include "gateway_fixture.hpp"
#include "kubefn/metering/meter.hpp"
#include "kubefn/testing/wait.hpp"
#include "runtime_process.hpp"

namespace kubefn::gateway {
namespace {

using e2e::local;
using e2e::make_route;
using kubefn::testing::http_request;
using kubefn::testing::RuntimeProcess;
using kubefn::testing::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;

class GatewayMetering : public e2e::GatewayTest {
 protected:
  void start_metered(GatewayOptions o = {}) {
    o.meter = meter_;
    start(o);
  }
  // The function's totals, once `calls` invocations were metered (they are as each answer is
  // written, so a client can read an answer before its call is counted).
  metering::Totals totals_after(const std::string& name, std::uint64_t calls) {
    metering::Totals found;
    EXPECT_TRUE(wait_until(
        [&] {
          for (const auto& t : meter_->totals()) {
            if (t.name == name && t.invocations_total() >= calls) {
              found = t;
              return true;
            }
          }
          return false;
        },
        seconds(10)))
        << name << " never reached " << calls << " metered calls";
    return found;
  }

  std::shared_ptr<metering::Meter> meter_ = std::make_shared<metering::Meter>();
};

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

TEST_F(GatewayMetering, BillsTheRuntimesMeasureRoundedUpAtTheFunctionsMemorySize) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  auto route = make_route("slow", {local("s0", slow.port())});
  route.memory_bytes = 256LL << 20;
  routes_.upsert(route);
  start_metered();
  for (int i = 0; i < 3; ++i) {
    auto r = http_request(port(), "GET", "/default/slow?ms=30");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    // The runtime's measure is for the gateway only.
    EXPECT_EQ(r->header("kubefn-execution-ns"), "");
  }
  const auto t = totals_after("slow", 3);
  EXPECT_EQ(t.invocations[0], 3u);
  // Each call slept 30 ms: billed 31 ms or a little more each, never less than it ran.
  EXPECT_GE(t.billed_seconds, 3 * 0.031 - 1e-9);
  EXPECT_LT(t.billed_seconds, 3 * 0.060);
  // Whole milliseconds.
  EXPECT_NEAR(t.billed_seconds * 1000, std::round(t.billed_seconds * 1000), 1e-6);
  EXPECT_NEAR(t.gb_seconds, t.billed_seconds * 0.25, 1e-12);
  EXPECT_GE(t.latency_sum, t.billed_seconds - 3 * 0.001);
  EXPECT_EQ(t.cold_starts, 0u);
  // The same figures on the metrics listener.
  EXPECT_EQ(metric("kubefn_function_invocations_total{namespace=\"default\",function=\"slow\","
                   "outcome=\"success\"}"),
            3);
  EXPECT_EQ(
      metric("kubefn_function_latency_seconds_count{namespace=\"default\",function=\"slow\"}"), 3);
}

TEST_F(GatewayMetering, AHandlerCannotLowerItsBill) {
  RuntimeProcess forged(KUBEFN_FIXTURE_SO, "forged_bill");
  ASSERT_TRUE(forged.started());
  routes_.upsert(make_route("forged", {local("f0", forged.port())}));
  start_metered();
  auto r = http_request(port(), "GET", "/default/forged?ms=20");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("kubefn-execution-ns"), "");
  const auto t = totals_after("forged", 1);
  EXPECT_GE(t.billed_seconds, 0.021 - 1e-9);
  // The default memory size: 128 MiB.
  EXPECT_NEAR(t.gb_seconds, t.billed_seconds * (128.0 * 1024 * 1024) / kGiB, 1e-12);
}

TEST_F(GatewayMetering, OutcomesErrorTimeoutAndThrottledAndRefusalsAreNotInvocations) {
  RuntimeProcess boom(KUBEFN_FIXTURE_SO, "boom");
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(boom.started() && slow.started());
  routes_.upsert(make_route("boom", {local("b0", boom.port())}));
  auto timed = make_route("timed", {local("t0", slow.port())});
  timed.timeout = milliseconds(200);
  routes_.upsert(timed);
  auto one = make_route("one", {local("o0", slow.port())});
  one.concurrency = 1;
  routes_.upsert(one);
  routes_.upsert(make_route("private", {local("p0", slow.port())}, Access::kPrivate));
  keys_.set({"secret"});
  GatewayOptions o;
  o.queue_limit = 0;
  start_metered(o);

  auto r = http_request(port(), "GET", "/default/boom");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = http_request(port(), "GET", "/default/timed?ms=2000", "", {}, seconds(20));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  // A call holds the only slot; the next is refused at once (no queue).
  auto holder = std::async(std::launch::async, [&] {
    return http_request(port(), "GET", "/default/one?ms=1500", "", {}, seconds(20));
  });
  auto state = routes_.find("default", "one")->state;
  ASSERT_TRUE(wait_until([&] { return state->inflight.load() == 1; }, seconds(10)));
  ASSERT_TRUE(wait_until(
      [&] {
        auto refused = http_request(port(), "GET", "/default/one?ms=1");
        return refused && refused->status == 429;
      },
      seconds(10)));
  auto held = holder.get();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 200);
  // No credential: refused before admission, so not an invocation.
  r = http_request(port(), "GET", "/default/private?ms=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);

  const auto boom_t = totals_after("boom", 1);
  EXPECT_EQ(boom_t.invocations[static_cast<int>(metering::Outcome::kError)], 1u);
  EXPECT_GT(boom_t.billed_seconds, 0);
  const auto timed_t = totals_after("timed", 1);
  EXPECT_EQ(timed_t.invocations[static_cast<int>(metering::Outcome::kTimeout)], 1u);
  // Billed until the gateway gave up: the function's 200 ms timeout.
  EXPECT_GE(timed_t.billed_seconds, 0.2 - 1e-9);
  EXPECT_LT(timed_t.billed_seconds, 1.0);
  const auto one_t = totals_after("one", 2);
  EXPECT_EQ(one_t.invocations[static_cast<int>(metering::Outcome::kSuccess)], 1u);
  EXPECT_GE(one_t.invocations[static_cast<int>(metering::Outcome::kThrottled)], 1u);
  // Throttled calls are never billed: only the held call's 1.5 s.
  EXPECT_GE(one_t.billed_seconds, 1.5);
  EXPECT_LT(one_t.billed_seconds, 2.0);
  for (const auto& t : meter_->totals())
    EXPECT_NE(t.name, "private") << "a refused call was metered";
}

TEST_F(GatewayMetering, ACallThatWaitedForAFirstReplicaIsAColdStartWithItsWait) {
  RuntimeProcess hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_TRUE(hello.started());
  routes_.upsert(make_route("hello", {}));
  std::atomic<int> demanded{0};
  GatewayOptions o;
  o.activation_timeout = seconds(20);
  o.on_demand = [&](const std::string&, const std::string&) { ++demanded; };
  start_metered(o);
  auto pending = std::async(std::launch::async, [&] {
    return http_request(port(), "GET", "/default/hello", "", {}, seconds(30));
  });
  ASSERT_TRUE(wait_until([&] { return demanded.load() > 0; }, seconds(10)));
  const auto asked = std::chrono::steady_clock::now();
  // The replica comes 200 ms after the call asked for it.
  ASSERT_TRUE(wait_until(
      [&] { return std::chrono::steady_clock::now() - asked >= milliseconds(200); }, seconds(5)));
  routes_.set_endpoints("default", "hello", {local("h0", hello.port())});
  auto r = pending.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // A warm call after it.
  ASSERT_TRUE(http_request(port(), "GET", "/default/hello"));
  const auto t = totals_after("hello", 2);
  EXPECT_EQ(t.cold_starts, 1u);
  EXPECT_GE(t.wait_sum, 0.2);
  EXPECT_LT(t.wait_sum, 20);
  EXPECT_EQ(t.wait_buckets.back(), 1u);  // one observation in all
  // The wait is the caller's, not the function's: it is not billed.
  EXPECT_LT(t.billed_seconds, 0.1);
}

TEST_F(GatewayMetering, AReplicasBusyTimeIsTheTimeItHasACallInFlight) {
  RuntimeProcess slow(KUBEFN_FIXTURE_SO, "sleepy");
  ASSERT_TRUE(slow.started());
  routes_.upsert(make_route("slow", {local("s0", slow.port())}));
  start_metered();
  auto load = routes_.find("default", "slow")->loads[0];
  EXPECT_EQ(load->busy_seconds(), 0);
  // Two overlapping calls of 300 ms, the second sent once the first is in flight: busy about
  // 300 ms plus the offset between them, not 600.
  auto a = std::async(std::launch::async,
                      [&] { return http_request(port(), "GET", "/default/slow?ms=300"); });
  ASSERT_TRUE(wait_until([&] { return load->inflight.load() == 1; }, seconds(5)));
  auto b = std::async(std::launch::async,
                      [&] { return http_request(port(), "GET", "/default/slow?ms=300"); });
  ASSERT_TRUE(wait_until([&] { return load->inflight.load() == 2; }, seconds(5)));
  ASSERT_TRUE(a.get() && b.get());
  ASSERT_TRUE(wait_until([&] { return load->inflight.load() == 0; }, seconds(5)));
  const double busy = load->busy_seconds();
  EXPECT_GE(busy, 0.3);
  EXPECT_LT(busy, 0.55);
  // Idle now: it does not grow.
  const double before = busy;
  std::this_thread::yield();
  EXPECT_EQ(load->busy_seconds(), before);
}

}  // namespace
}  // namespace kubefn::gateway
