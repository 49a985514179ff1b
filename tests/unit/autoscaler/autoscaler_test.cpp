#include "kubefn/autoscaler/autoscaler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace kubefn::autoscaler {
namespace {

using std::chrono::seconds;

// Drives one Autoscaler with a fake clock: every second each listed replica reports, then the
// autoscaler decides at the start of the next second.
class Driver {
 public:
  explicit Driver(ScalingSpec spec) : scaler_(spec, start_) {}

  TimePoint at(int second) const { return start_ + seconds(second); }

  // A replica deleted and made again is a new pod: a new name.
  std::string name(int i) const {
    const auto it = generation_.find(i);
    return "r" + std::to_string(i) + "." + std::to_string(it == generation_.end() ? 0 : it->second);
  }

  // Replicas r0..r{n-1} each report `inflight` in flight and `rps` calls for second `s`.
  void report(int s, int replicas, double inflight, double rps = 0) {
    for (int i = 0; i < replicas; ++i) {
      ReplicaSample sample;
      sample.replica = name(i);
      sample.second = at(s);
      sample.inflight_average = inflight;
      sample.inflight_peak = inflight > 0 ? inflight + 1 : 0;
      sample.requests = rps;
      scaler_.record(sample);
    }
  }

  // Runs seconds [from, to): report with the current replica count, decide, apply.
  Decision run(int from, int to, double total_inflight, double total_rps = 0) {
    Decision d;
    for (int s = from; s < to; ++s) {
      const int n = replicas_;
      if (n > 0) report(s, n, total_inflight / n, total_rps / n);
      if (n == 0 && total_inflight > 0) scaler_.record_queued(at(s), total_inflight);
      d = scaler_.decide(at(s + 1), replicas_);
      history_.push_back(d.desired);
      apply(d.desired);
    }
    return d;
  }

  void apply(int desired) {
    for (int i = desired; i < replicas_; ++i) {
      scaler_.forget_replica(name(i));
      ++generation_[i];
    }
    replicas_ = desired;
  }

  Autoscaler& scaler() { return scaler_; }
  int replicas() const { return replicas_; }
  void set_replicas(int n) { replicas_ = n; }
  const std::vector<int>& history() const { return history_; }

 private:
  TimePoint start_{seconds(1000)};
  Autoscaler scaler_;
  int replicas_ = 1;
  std::map<int, int> generation_;
  std::vector<int> history_;
};

ScalingSpec concurrency_spec(int min, int max, double target) {
  ScalingSpec s;
  s.min_replicas = min;
  s.max_replicas = max;
  s.target = target;
  return s;
}

TEST(Autoscaler, SteadyLoadIsStable) {
  Driver d(concurrency_spec(1, 100, 1.0));
  d.set_replicas(4);
  d.run(0, 300, 3.5);  // 3.5 in flight with target 1: four replicas
  for (std::size_t i = 60; i < d.history().size(); ++i)
    ASSERT_EQ(d.history()[i], 4) << i;
  EXPECT_FALSE(d.scaler().in_panic());
}

TEST(Autoscaler, TenfoldStepPanicsAndScalesUpWithinOneTick) {
  Driver d(concurrency_spec(1, 100, 1.0));
  d.set_replicas(2);
  d.run(0, 120, 2.0);
  ASSERT_EQ(d.replicas(), 2);
  // One second of 10x load is in the 6 s panic window: (5*2 + 20) / 6 = 5 per replica >= 2x.
  const Decision step = d.run(120, 121, 20.0);
  EXPECT_TRUE(step.panic) << step.reason;
  EXPECT_GE(step.desired, 5) << step.reason;
  EXPECT_NE(step.reason.find("panic"), std::string::npos);
  // As the panic window fills, the whole step is covered within the window.
  const Decision full = d.run(121, 126, 20.0);
  EXPECT_EQ(full.desired, 20) << full.reason;
}

TEST(Autoscaler, BurstThenQuietHoldsDuringPanicThenScalesDownAtRate) {
  Driver d(concurrency_spec(1, 100, 1.0));
  d.run(0, 60, 1.0);
  d.run(60, 70, 32.0);  // burst
  ASSERT_TRUE(d.scaler().in_panic());
  const int peak = d.replicas();
  ASSERT_GE(peak, 16);
  // Quiet at 0.8 in flight: nothing goes away while panicking (a stable window after the
  // burst).
  std::vector<int> after;
  for (int s = 70; s < 200; ++s) {
    const Decision dec = d.run(s, s + 1, 0.8);
    after.push_back(dec.desired);
    if (dec.panic) {
      ASSERT_GE(dec.desired, peak) << s << ": " << dec.reason;
    }
  }
  EXPECT_FALSE(d.scaler().in_panic());
  // Leaving panic, the replicas fall by at most half per tick, down to the steady need.
  int previous = peak;
  bool fell = false;
  for (int v : after) {
    EXPECT_GE(v, previous / 2);
    fell = fell || v < previous;
    previous = v;
  }
  EXPECT_TRUE(fell);
  EXPECT_EQ(d.replicas(), 1);
}

TEST(Autoscaler, ScaleDownToleranceKeepsReplicasNearABoundary) {
  ScalingSpec spec = concurrency_spec(1, 100, 1.0);
  Driver d(spec);
  d.set_replicas(3);
  // 2.8 in flight needs 3; 1.95 needs 2, but 1.95 + 10% still needs 3: hold.
  d.run(0, 120, 2.8);
  ASSERT_EQ(d.replicas(), 3);
  const Decision held = d.run(120, 300, 1.95);
  EXPECT_EQ(held.desired, 3) << held.reason;
  // Without the tolerance the same load scales down.
  spec.scale_down_tolerance = 0;
  Driver plain(spec);
  plain.set_replicas(3);
  plain.run(0, 120, 2.8);
  EXPECT_EQ(plain.run(120, 300, 1.95).desired, 3 - 1);
}

TEST(Autoscaler, ClampsToMinAndMax) {
  Driver high(concurrency_spec(0, 5, 1.0));
  high.run(0, 30, 50.0);
  EXPECT_EQ(high.replicas(), 5);
  const Decision capped = high.run(30, 31, 50.0);
  EXPECT_NE(capped.reason.find("maxReplicas"), std::string::npos) << capped.reason;

  Driver low(concurrency_spec(3, 10, 1.0));
  low.run(0, 300, 0.0);
  EXPECT_EQ(low.replicas(), 3);
}

TEST(Autoscaler, ScalesToZeroAfterGraceOnlyWhenMinIsZero) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.mode = KeepAliveMode::kFixed;
  Driver d(spec);
  d.run(0, 30, 0.5);
  ASSERT_EQ(d.replicas(), 1);
  // Idle: the last replica stays for the 30 s grace, then goes.
  const Decision during = d.run(30, 59, 0.0);
  EXPECT_EQ(during.desired, 1) << during.reason;
  ASSERT_TRUE(during.scale_to_zero_at.has_value());
  EXPECT_EQ(*during.scale_to_zero_at, d.at(60));
  const Decision after = d.run(59, 61, 0.0);
  EXPECT_EQ(after.desired, 0) << after.reason;

  Driver keep(concurrency_spec(1, 10, 1.0));
  keep.run(0, 30, 0.5);
  keep.run(30, 400, 0.0);
  EXPECT_EQ(keep.replicas(), 1);
}

TEST(Autoscaler, QueuedRequestAtZeroScalesToOneAtOnce) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  Driver d(spec);
  d.set_replicas(0);
  d.run(0, 100, 0.0);
  ASSERT_EQ(d.replicas(), 0);
  // The gateway's poke mid-second, before any tick.
  const Decision poked = d.scaler().poke(d.at(100) + std::chrono::milliseconds(300), 0, 1);
  EXPECT_EQ(poked.desired, 1) << poked.reason;
  EXPECT_NE(poked.reason.find("queued"), std::string::npos) << poked.reason;
  // Three waiting with target 1: three at once.
  const Decision three = d.scaler().poke(d.at(100) + std::chrono::milliseconds(400), 0, 3);
  EXPECT_EQ(three.desired, 3) << three.reason;
}

TEST(Autoscaler, UnknownReplicasDoNotCauseScaleDown) {
  Driver d(concurrency_spec(1, 100, 1.0));
  d.set_replicas(4);
  d.run(0, 120, 3.6);
  ASSERT_EQ(d.replicas(), 4);
  // Two replicas stop reporting; the two that do report little. Missing is not idle.
  Decision dec;
  for (int s = 120; s < 300; ++s) {
    d.report(s, 2, 0.1);
    dec = d.scaler().decide(d.at(s + 1), 4);
    ASSERT_GE(dec.desired, 4) << s << ": " << dec.reason;
  }
  EXPECT_EQ(dec.unknown_replicas, 2);
  EXPECT_NE(dec.reason.find("not reporting"), std::string::npos) << dec.reason;

  // Replicas the function has but that never reported (still starting) hold it too.
  Driver fresh(concurrency_spec(0, 100, 1.0));
  fresh.set_replicas(0);
  const Decision start = fresh.scaler().decide(fresh.at(100), 3);
  EXPECT_EQ(start.desired, 3) << start.reason;
  EXPECT_EQ(start.unknown_replicas, 3);
}

TEST(Autoscaler, AWholeFunctionReporterLeavesNoReplicaUnknown) {
  // kubefn up: the gateway reports for all the replicas at once, under one name.
  Autoscaler scaler(concurrency_spec(0, 10, 1.0), TimePoint(seconds(1000)));
  auto report = [&](int s, double inflight, bool whole) {
    ReplicaSample sample;
    sample.replica = "gateway";
    sample.second = TimePoint(seconds(1000 + s));
    sample.inflight_average = inflight;
    sample.whole_function = whole;
    scaler.record(sample);
  };
  for (int s = 0; s < 10; ++s)
    report(s, 4.0, true);
  EXPECT_EQ(scaler.decide(TimePoint(seconds(1010)), 4).unknown_replicas, 0);
  // The same single reporter without the flag: three of the four replicas are unknown.
  Autoscaler other(concurrency_spec(0, 10, 1.0), TimePoint(seconds(1000)));
  ReplicaSample sample;
  sample.replica = "gateway";
  sample.second = TimePoint(seconds(1009));
  sample.inflight_average = 4.0;
  other.record(sample);
  EXPECT_EQ(other.decide(TimePoint(seconds(1010)), 4).unknown_replicas, 3);
  // With the flag, once the load is gone the function scales down.
  Decision d;
  for (int s = 10; s < 200; ++s) {
    report(s, 0.0, true);
    d = scaler.decide(TimePoint(seconds(1000 + s + 1)), 4);
  }
  EXPECT_EQ(d.desired, 0) << d.reason;
}

TEST(Autoscaler, ALateSampleFromAForgottenReplicaIsIgnored) {
  const TimePoint t0{seconds(1000)};
  Autoscaler scaler(concurrency_spec(1, 100, 1.0), t0);
  auto sample = [&](const char* name, int s) {
    ReplicaSample r;
    r.replica = name;
    r.second = t0 + seconds(s);
    r.inflight_average = 0.4;
    r.inflight_peak = 1;
    return r;
  };
  for (int s = 0; s < 120; ++s) {
    scaler.record(sample("r0", s));
    scaler.record(sample("r1", s));
    scaler.decide(t0 + seconds(s + 1), 2);
  }
  // The operator deletes r1 and forgets it; r1's report for its last second arrives after
  // that. It must not come back as an unknown replica that blocks scale-down.
  scaler.forget_replica("r1");
  scaler.record(sample("r1", 120));
  Decision dec;
  for (int s = 120; s < 130; ++s) {
    scaler.record(sample("r0", s));
    dec = scaler.decide(t0 + seconds(s + 1), 1);
  }
  EXPECT_EQ(dec.unknown_replicas, 0) << dec.reason;
  EXPECT_EQ(dec.desired, 1) << dec.reason;
}

TEST(Autoscaler, RpsMetric) {
  ScalingSpec spec = concurrency_spec(1, 100, 50.0);
  spec.metric = Metric::kRps;
  Driver d(spec);
  d.set_replicas(1);
  // 240 calls per second at 50 per replica: five replicas, whatever the concurrency.
  const Decision dec = d.run(0, 120, 0.2, 240.0);
  EXPECT_EQ(dec.desired, 5) << dec.reason;
  EXPECT_NE(dec.reason.find("rps"), std::string::npos);
}

TEST(Autoscaler, LearnedKeepAliveScalesToZeroAndPrewarmsBeforeTheNextCall) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  Driver d(spec);
  d.set_replicas(1);
  // A timer-like function: one second of work every 10 minutes.
  int s = 0;
  for (int call = 0; call < 8; ++call, s += 600) {
    d.set_replicas(std::max(1, d.replicas()));
    d.run(s, s + 1, 1.0);
    d.run(s + 1, s + 600, 0.0);
  }
  const KeepAlivePlan plan = d.scaler().idle_histogram().plan();
  ASSERT_TRUE(plan.representative) << plan.why;
  // Idle 599 s each time: pre-warm at 599 s - 2% - 10 s, keep until 599 s + 10%.
  EXPECT_EQ(plan.prewarm, Duration(seconds(577)));
  EXPECT_EQ(plan.keep_alive, Duration(seconds(659)));

  // Next call at s: watch the idle period that follows it.
  d.set_replicas(1);
  d.run(s, s + 1, 1.0);
  const Decision grace = d.run(s + 1, s + 20, 0.0);
  EXPECT_EQ(grace.desired, 1) << grace.reason;
  const Decision zero = d.run(s + 20, s + 40, 0.0);
  EXPECT_EQ(zero.desired, 0) << zero.reason;
  ASSERT_TRUE(zero.prewarm_at.has_value());
  EXPECT_EQ(*zero.prewarm_at, d.at(s + 1 + 577));
  EXPECT_NE(zero.reason.find("pre-warm"), std::string::npos) << zero.reason;
  const Decision before = d.run(s + 40, s + 577, 0.0);
  EXPECT_EQ(before.desired, 0);
  const Decision warm = d.run(s + 577, s + 579, 0.0);
  EXPECT_EQ(warm.desired, 1) << warm.reason;
  // The call does not come: after the keep-alive the replica goes.
  const Decision gone = d.run(s + 579, s + 1 + 659 + 1, 0.0);
  EXPECT_EQ(gone.desired, 0) << gone.reason;
}

// The price of a cold start (spec.scaling.coldStartCost) sets how long the last replica waits
// for the next call. The function's idle times cycle 10 s, 50 s, 100 s; the grace period is
// 30 s. Waiting past 50 s spares a cold start per 50-s gap for 20 s of each 50-s gap and 21 s
// of each 100-s one; waiting past 100 s spares two per cycle for 20 + 70 s.
struct PricedKeepAliveRow {
  const char* name;
  double cost;  // replica-seconds a cold start is worth
  int keep_s;   // seconds idle before the last replica goes
};

class PricedKeepAlive : public ::testing::TestWithParam<PricedKeepAliveRow> {};

TEST_P(PricedKeepAlive, TheLastReplicaWaitsAsLongAsTheColdStartsItSparesAreWorth) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.cold_start_cost = GetParam().cost;
  Driver d(spec);
  int s = 0;
  for (int cycle = 0; cycle < 12; ++cycle) {
    for (const int gap : {10, 50, 100}) {
      d.run(s, s + 1, 1.0);
      d.run(s + 1, s + 1 + gap, 0.0);
      s += 1 + gap;
    }
  }
  ASSERT_TRUE(d.scaler().idle_histogram().plan().learned);
  const int keep = GetParam().keep_s;
  d.run(s, s + 1, 1.0);  // the last call
  const Decision kept = d.run(s + 1, s + keep, 0.0);
  EXPECT_EQ(kept.desired, 1) << kept.reason;
  ASSERT_TRUE(kept.scale_to_zero_at.has_value()) << kept.reason;
  EXPECT_EQ(*kept.scale_to_zero_at, d.at(s + 1 + keep));
  const Decision gone = d.run(s + keep, s + keep + 1, 0.0);
  EXPECT_EQ(gone.desired, 0) << gone.reason;
  EXPECT_NE(gone.reason.find("learned keep-alive"), std::string::npos) << gone.reason;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PricedKeepAlive,
    ::testing::Values(
        // Worth nothing: gone after the grace period.
        PricedKeepAliveRow{"free", 0, 30}, PricedKeepAliveRow{"small", 5, 30},
        // Not worth the 50-s gaps either: the grace period (and the break-even 30 s).
        PricedKeepAliveRow{"below_the_gaps", 30, 30},
        // The default: worth waiting through the 50-s gaps (+10%), not the 100-s ones.
        PricedKeepAliveRow{"default", kDefaultColdStartCost, 55},
        // A minute: worth waiting through both (+10%).
        PricedKeepAliveRow{"a_minute", 60, 110},
        // Five minutes: longer than any gap seen, so the break-even rule's five minutes.
        PricedKeepAliveRow{"large", 300, 300}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Autoscaler, BeforeEnoughIdleTimesTheLastReplicaStaysAsLongAsAColdStartIsWorth) {
  struct Row {
    double cost;
    int keep_s;
  };
  // Never below the 30-s grace period.
  for (const Row row : {Row{0, 30}, Row{kDefaultColdStartCost, 45}, Row{300, 300}}) {
    ScalingSpec spec = concurrency_spec(0, 10, 1.0);
    spec.keep_alive.cold_start_cost = row.cost;
    Driver d(spec);
    d.run(0, 5, 1.0);
    const Decision kept = d.run(5, 5 + row.keep_s - 1, 0.0);
    EXPECT_FALSE(kept.keep_alive.learned);
    EXPECT_EQ(kept.desired, 1) << kept.reason;
    ASSERT_TRUE(kept.scale_to_zero_at.has_value());
    EXPECT_EQ(*kept.scale_to_zero_at, d.at(5 + row.keep_s)) << "cost " << row.cost;
    const Decision dec = d.run(5 + row.keep_s - 1, 5 + row.keep_s + 1, 0.0);
    EXPECT_EQ(dec.desired, 0) << dec.reason;
    EXPECT_NE(dec.reason.find("fixed keep-alive"), std::string::npos) << dec.reason;
  }
}

TEST(Autoscaler, ANewPriceAppliesToWhatWasLearned) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.cold_start_cost = 300;
  Driver d(spec);
  int s = 0;
  for (int call = 0; call < 10; ++call, s += 21) {
    d.run(s, s + 1, 1.0);
    d.run(s + 1, s + 21, 0.0);
  }
  spec.keep_alive.cold_start_cost = 0;
  d.scaler().set_spec(spec);
  ASSERT_TRUE(d.scaler().idle_histogram().plan().learned);  // the idle times stay
  d.run(s, s + 1, 1.0);
  const Decision kept = d.run(s + 1, s + 30, 0.0);
  EXPECT_EQ(kept.desired, 1) << kept.reason;
  const Decision gone = d.run(s + 30, s + 31, 0.0);
  EXPECT_EQ(gone.desired, 0) << gone.reason;  // the grace period, no longer 300 s
}

TEST(Autoscaler, APrewarmNotWorthItsPriceIsNotMade) {
  // The timer of LearnedKeepAliveScalesToZeroAndPrewarmsBeforeTheNextCall, with a cold start
  // worth 10 replica-seconds: the pre-warmed replica would wait 22 s for each call.
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.cold_start_cost = 10;
  Driver d(spec);
  int s = 0;
  for (int call = 0; call < 8; ++call, s += 600) {
    d.run(s, s + 1, 1.0);
    d.run(s + 1, s + 600, 0.0);
  }
  d.run(s, s + 1, 1.0);
  const Decision zero = d.run(s + 1, s + 40, 0.0);
  EXPECT_EQ(zero.desired, 0) << zero.reason;
  EXPECT_FALSE(zero.prewarm_at.has_value());
  EXPECT_NE(zero.reason.find("not worth its price"), std::string::npos) << zero.reason;
  const Decision due = d.run(s + 40, s + 599, 0.0);
  EXPECT_EQ(due.desired, 0) << due.reason;  // no replica before the call
}

// Each further replica is priced like the last one: the second replica of a function whose
// load needs two for 10 s of every 40 waits through the 30-s lulls only when a cold start is
// worth more than them.
TEST(Autoscaler, AFurtherReplicaIsKeptThroughLullsWorthItsPrice) {
  auto lull = [](double cost) {
    ScalingSpec spec = concurrency_spec(1, 10, 1.0);
    spec.stable_window = seconds(10);  // the panic window is 1 s
    spec.panic_threshold = 10;         // no panic mode: the windows alone
    spec.keep_alive.cold_start_cost = cost;
    Driver d(spec);
    int s = 0;
    for (int cycle = 0; cycle < 8; ++cycle, s += 40) {
      d.run(s, s + 10, 1.6);
      d.run(s + 10, s + 40, 0.4);
    }
    d.run(s, s + 10, 1.6);
    return d.run(s + 10, s + 35, 0.4);  // 25 s into the lull
  };
  const Decision free = lull(0);
  EXPECT_EQ(free.desired, 1) << free.reason;
  const Decision cheap = lull(15);  // less than the 30-s lull
  EXPECT_EQ(cheap.desired, 1) << cheap.reason;
  const Decision worth = lull(kDefaultColdStartCost);
  EXPECT_EQ(worth.desired, 2) << worth.reason;
  EXPECT_NE(worth.reason.find("2 replicas kept"), std::string::npos) << worth.reason;
}

TEST(Autoscaler, CallsQueuedWhileAskedForReplicasStartAreTheirsToTake) {
  // A call queues at zero: two replicas are asked for (1 / 0.7 per replica). While they start,
  // 13.5 calls wait in that second; two replicas take 1.4 of them, so the 6-s panic window sees
  // 12.1 / 6 = 2.0 calls, three replicas' worth: no panic, no more replicas.
  ScalingSpec spec = concurrency_spec(0, 50, 0.7);
  auto at = [](int s) { return TimePoint(seconds(1000 + s)); };
  Autoscaler asked(spec, at(0));
  EXPECT_EQ(asked.poke(at(100), 0, 1).desired, 2);
  asked.record_queued(at(100), 13.5);
  const Decision starting = asked.decide(at(101), 2);
  EXPECT_EQ(starting.desired, 2) << starting.reason;
  EXPECT_FALSE(starting.panic);
  // Two replicas nobody just asked for (they may be long gone silent): the queue is all load,
  // 13.5 / 6 = 2.25 calls, four replicas' worth, twice the two: panic.
  Autoscaler silent(spec, at(0));
  silent.record_queued(at(100), 13.5);
  const Decision more = silent.decide(at(101), 2);
  EXPECT_EQ(more.desired, 4) << more.reason;
  EXPECT_TRUE(more.panic);
}

TEST(Autoscaler, APeakThatRecursIsPrewarmedAndOnlyThen) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  Driver d(spec);
  // One call in flight all the time, and every 300 s a 15-s peak of 5 in flight.
  int s = 0;
  for (int cycle = 0; cycle < 10; ++cycle, s += 300) {
    d.run(s, s + 15, 5.0);
    d.run(s + 15, s + 300, 0.5);
  }
  const IdleHistogram* fifth = d.scaler().replica_histogram(5);
  ASSERT_NE(fifth, nullptr);
  const KeepAlivePlan plan = fifth->plan();
  ASSERT_TRUE(plan.representative) << plan.why;
  ASSERT_GT(plan.prewarm, seconds(30));
  d.run(s, s + 15, 5.0);
  // Between peaks the function runs on one replica...
  const Decision between = d.run(s + 15, s + 200, 0.5);
  EXPECT_EQ(between.desired, 1) << between.reason;
  EXPECT_EQ(between.recurring_peak, 0);
  // ...and shortly before the next peak is due, its replicas are back, before any load.
  const Decision due = d.run(s + 200, s + 298, 0.5);
  EXPECT_GE(due.desired, 5) << due.reason;
  EXPECT_GE(due.recurring_peak, 5);
  EXPECT_NE(due.reason.find("recurs"), std::string::npos) << due.reason;

  // keepAlive: fixed learns nothing ahead of time: the same history, no pre-warm.
  spec.keep_alive.mode = KeepAliveMode::kFixed;
  d.scaler().set_spec(spec);
  const Decision fixed = d.run(s + 298, s + 299, 0.5);
  EXPECT_EQ(fixed.recurring_peak, 0) << fixed.reason;
}

TEST(Autoscaler, SameInputsSameDecisions) {
  auto run = [] {
    Driver d(concurrency_spec(0, 50, 0.7));
    std::vector<int> out;
    for (int s = 0; s < 600; s += 10) {
      const double load = (s / 10) % 7 == 0 ? 12.0 : (s / 10) % 3;
      out.push_back(d.run(s, s + 10, load).desired);
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

// Seconds [from, to) with `pending` events in the queue triggers, measured at each second's
// start; the replicas report nothing in flight (the backlog alone asks).
Decision run_with_backlog(Driver& d, int from, int to, double pending) {
  Decision last;
  for (int s = from; s < to; ++s) {
    d.scaler().record_backlog(d.at(s), pending);
    last = d.run(s, s + 1, 0.0);
  }
  return last;
}

TEST(Autoscaler, ABacklogAtZeroAsksForBacklogOverTargetReplicasAtOnce) {
  Driver d(concurrency_spec(0, 10, 2.0));
  d.set_replicas(0);
  d.run(0, 100, 0.0);
  ASSERT_EQ(d.replicas(), 0);
  // The first report mid-second: decided at once, not at the next tick.
  const TimePoint t = d.at(100) + std::chrono::milliseconds(300);
  d.scaler().record_backlog(t, 7);
  const Decision first = d.scaler().decide(t, 0);
  EXPECT_EQ(first.desired, 4) << first.reason;  // ceil(7 / 2)
  EXPECT_DOUBLE_EQ(first.backlog, 7);
  EXPECT_NE(first.reason.find("backlog 7 pending in queue triggers: 4 replicas"), std::string::npos)
      << first.reason;

  // rps: the same target, the same replicas.
  ScalingSpec rps = concurrency_spec(0, 10, 10.0);
  rps.metric = Metric::kRps;
  Driver r(rps);
  r.set_replicas(0);
  r.scaler().record_backlog(r.at(5), 35);
  EXPECT_EQ(r.scaler().decide(r.at(5), 0).desired, 4);
}

TEST(Autoscaler, ABacklogIsCappedAtMaxReplicas) {
  Driver d(concurrency_spec(0, 3, 1.0));
  d.set_replicas(0);
  d.run(0, 10, 0.0);
  const Decision capped = run_with_backlog(d, 10, 11, 50);
  EXPECT_EQ(capped.desired, 3) << capped.reason;
  EXPECT_NE(capped.reason.find("capped at maxReplicas"), std::string::npos) << capped.reason;
  EXPECT_EQ(run_with_backlog(d, 11, 20, 50).desired, 3);
}

TEST(Autoscaler, ABacklogBackToZeroThenIdleScalesToZeroAfterTheKeepAlive) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.mode = KeepAliveMode::kFixed;  // the 30 s grace
  Driver d(spec);
  d.set_replicas(0);
  d.run(0, 100, 0.0);
  ASSERT_EQ(d.replicas(), 0);
  // Events waiting, nothing in flight reported: the backlog holds the replicas, for longer than
  // any keep-alive would.
  const Decision busy = run_with_backlog(d, 100, 160, 5);
  EXPECT_EQ(busy.desired, 5) << busy.reason;
  EXPECT_FALSE(busy.scale_to_zero_at.has_value()) << busy.reason;
  for (std::size_t i = 100; i < d.history().size(); ++i)
    ASSERT_EQ(d.history()[i], 5) << i;
  // Drained: the windows let the replicas go down to the last one, which the keep-alive holds
  // for its grace from the first second without a backlog, then goes.
  const Decision during = run_with_backlog(d, 160, 185, 0);
  EXPECT_EQ(during.desired, 1) << during.reason;
  EXPECT_DOUBLE_EQ(during.backlog, 0);
  ASSERT_TRUE(during.scale_to_zero_at.has_value()) << during.reason;
  EXPECT_EQ(*during.scale_to_zero_at, d.at(160 + 30));
  const Decision after = run_with_backlog(d, 185, 195, 0);
  EXPECT_EQ(after.desired, 0) << after.reason;
}

TEST(Autoscaler, AStaleBacklogIsIgnored) {
  ScalingSpec spec = concurrency_spec(0, 10, 1.0);
  spec.keep_alive.mode = KeepAliveMode::kFixed;
  Driver d(spec);
  d.set_replicas(0);
  // One report, then the dispatcher goes silent.
  d.scaler().record_backlog(d.at(100), 5);
  const Decision fresh = d.run(100, 130, 0.0);  // decided at 101..130: within 30 s
  EXPECT_EQ(fresh.desired, 5) << fresh.reason;
  EXPECT_DOUBLE_EQ(fresh.backlog, 5);
  const Decision stale = d.run(130, 131, 0.0);  // at 131: 31 s old
  EXPECT_DOUBLE_EQ(stale.backlog, 0) << stale.reason;
  EXPECT_LT(stale.desired, 5) << stale.reason;
  EXPECT_EQ(stale.reason.find("backlog"), std::string::npos) << stale.reason;
  // Gone for good: down to zero after the keep-alive.
  EXPECT_EQ(d.run(131, 200, 0.0).desired, 0);

  // The staleness is the spec's.
  spec.backlog_stale_after = seconds(10);
  Driver quick(spec);
  quick.set_replicas(0);
  quick.scaler().record_backlog(quick.at(0), 4);
  EXPECT_EQ(quick.scaler().decide(quick.at(10), 0).desired, 4);
  EXPECT_DOUBLE_EQ(quick.scaler().decide(quick.at(11), 4).backlog, 0);
}

TEST(Autoscaler, WindowsAskingForMoreThanTheBacklogWin) {
  Driver d(concurrency_spec(1, 20, 1.0));
  d.set_replicas(8);
  Decision steady;
  for (int s = 0; s < 120; ++s) {
    d.scaler().record_backlog(d.at(s), 2);
    steady = d.run(s, s + 1, 8.0);
  }
  EXPECT_EQ(steady.desired, 8) << steady.reason;
  EXPECT_DOUBLE_EQ(steady.backlog, 2);
  // Named, but not as what decided.
  EXPECT_NE(steady.reason.find("backlog 2 pending in queue triggers"), std::string::npos)
      << steady.reason;
  EXPECT_EQ(steady.reason.find("queue triggers: "), std::string::npos) << steady.reason;
  // A backlog larger than the windows' need takes over.
  const Decision more = run_with_backlog(d, 120, 121, 12);
  EXPECT_EQ(more.desired, 12) << more.reason;
}

}  // namespace
}  // namespace kubefn::autoscaler
