#include "schedule_runner.hpp"

#include "kubefn/api/function.hpp"
#include "kubefn/schedule/due_run.hpp"
#include "kubefn/schedule/event_id.hpp"

namespace kubefn::dispatch {

using nlohmann::json;

ScheduleRunner::ScheduleRunner(Context& ctx, FunctionInfo fn, triggers::ScheduleTrigger trigger,
                               schedule::Schedule schedule)
    : ctx_(ctx),
      fn_(std::move(fn)),
      trigger_(std::move(trigger)),
      schedule_(std::move(schedule)),
      stopper_(ctx.clock) {
  loop_ = std::thread([this] { loop(); });
}

ScheduleRunner::~ScheduleRunner() {
  stopper_.stop();
  if (loop_.joinable()) loop_.join();
  std::map<Instant, Run> runs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runs.swap(runs_);
  }
  for (auto& [_, r] : runs)
    r.stopper->stop();
  for (auto& [_, r] : runs) {
    if (r.thread.joinable()) r.thread.join();
  }
}

void ScheduleRunner::count(const char* result) {
  ctx_.metrics.schedule_runs
      .Add({{"namespace", fn_.ns},
            {"function", fn_.name},
            {"trigger", trigger_.name},
            {"result", result}})
      .Increment();
}

void ScheduleRunner::loop() {
  while (!stopper_.stopped()) {
    reap();
    const std::optional<Instant> wake = tick();
    auto d = std::chrono::duration_cast<kube::Clock::Duration>(std::chrono::minutes(1));
    if (wake) {
      const auto until = std::chrono::duration_cast<kube::Clock::Duration>(
          *wake - std::chrono::floor<std::chrono::seconds>(ctx_.clock.wall_now()));
      d = std::min(d, std::max(until, kube::Clock::Duration::zero()));
    }
    if (d > kube::Clock::Duration::zero() && !stopper_.wait(d)) break;
  }
}

bool ScheduleRunner::any_in_flight() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [_, r] : runs_) {
    if (!r.done->load()) return true;
  }
  return false;
}

void ScheduleRunner::reap() {
  std::vector<std::thread> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = runs_.begin(); it != runs_.end();) {
      if (it->second.done->load()) {
        finished.push_back(std::move(it->second.thread));
        it = runs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : finished)
    t.join();
}

std::optional<Instant> ScheduleRunner::tick() {
  const kube::ObjectRef ref{api::functions(), fn_.ns, fn_.name};
  auto got = ctx_.client.get(ref);
  const Instant now = std::chrono::floor<std::chrono::seconds>(ctx_.clock.wall_now());
  if (!got.ok()) return now + std::chrono::seconds(got.status().is_not_found() ? 60 : 2);
  json function = std::move(got).value();
  const TriggerState state = trigger_state(function, trigger_.name);

  // A run claimed but never recorded done: the dispatcher that claimed it stopped before the
  // function answered. It is delivered again, with the same event id.
  if (!resume_checked_) {
    resume_checked_ = true;
    if (state.last_schedule &&
        (!state.last_completed || *state.last_completed < *state.last_schedule)) {
      count("resumed");
      start(*state.last_schedule);
    }
  }
  if (!state.last_schedule) {
    // First sight of this schedule: it starts now (recorded, so a restart before its first run
    // neither misses that run nor makes up runs from before the trigger existed).
    auto w = write_trigger_state(
        ctx_.client, function, trigger_.name,
        [&](json& e) {
          e["lastScheduleTime"] = format_time(now);
          e["lastCompletedTime"] = format_time(now);
        },
        ctx_.field_manager);
    if (!w.ok() && !w.status().is_conflict()) {
      log_trigger(ctx_, "warn", "cannot record a schedule's start", fn_.ns, fn_.name, trigger_.name,
                  w.status().message());
      return now + std::chrono::seconds(2);
    }
    return now;
  }
  schedule::DueQuery q;
  q.since = *state.last_schedule;
  q.now = now;
  q.starting_deadline_seconds = trigger_.starting_deadline_seconds;
  const schedule::DueRun due = schedule::due_run(schedule_, q);
  if (due.missed && missed_told_ != due.missed) {
    missed_told_ = due.missed;
    count("missed");
    ctx_.events.record(function, "Warning", "MissedSchedule",
                       "schedule " + trigger_.name + ": the run of " + format_time(*due.missed) +
                           " is past its starting deadline of " +
                           std::to_string(trigger_.starting_deadline_seconds.value_or(0)) +
                           " s and does not run");
  }
  if (!due.run || trigger_.suspend) return due.next;

  const schedule::RunAction action = schedule::decide_run(trigger_.concurrency, any_in_flight());
  if (action == schedule::RunAction::kSkip) {
    if (forbidden_told_ != due.run) {
      forbidden_told_ = due.run;
      count("forbidden");
    }
    return due.next;  // woken sooner when the run in flight ends
  }
  auto claimed = write_trigger_state(
      ctx_.client, function, trigger_.name,
      [&](json& e) { e["lastScheduleTime"] = format_time(*due.run); }, ctx_.field_manager);
  if (!claimed.ok()) {
    // Conflict: someone wrote the Function since it was read (maybe another dispatcher claimed
    // this run); read again and decide again.
    if (claimed.status().is_conflict()) return now;
    log_trigger(ctx_, "warn", "cannot claim a scheduled run", fn_.ns, fn_.name, trigger_.name,
                claimed.status().message());
    return now + std::chrono::seconds(2);
  }
  count("claimed");
  if (action == schedule::RunAction::kReplace) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [_, r] : runs_)
      r.stopper->stop();
    count("replaced");
  }
  start(*due.run);
  return now;
}

void ScheduleRunner::start(Instant scheduled) {
  std::lock_guard<std::mutex> lock(mu_);
  if (runs_.count(scheduled) != 0) return;
  Run& r = runs_[scheduled];
  r.stopper = std::make_unique<Stopper>(ctx_.clock);
  r.done = std::make_shared<std::atomic<bool>>(false);
  Stopper* stopper = r.stopper.get();
  auto done = r.done;
  r.thread = std::thread([this, scheduled, stopper, done] {
    deliver(scheduled, *stopper);
    done->store(true);
    stopper_.poke();  // a run forbidden while this one was in flight may start now
  });
}

void ScheduleRunner::deliver(Instant scheduled, Stopper& stopper) {
  delivery::Event ev;
  ev.id = schedule::run_event_id(fn_.ns, fn_.name, trigger_.name, scheduled);
  ev.source = "/schedules/" + fn_.ns + "/" + fn_.name + "/" + trigger_.name;
  ev.type = "dev.kubefn.schedule.run";
  ev.time = scheduled;
  ev.kubeless_namespace = "schedules.triggers.kubefn.dev";
  ev.trigger = trigger_.name;
  if (trigger_.payload) {
    ev.content_type = "application/json";
    ev.body = trigger_.payload->dump();
  }
  const Delivered d = deliver_with_retries(ctx_, fn_, trigger_.name, ev, trigger_.retry, stopper);
  if (d.stopped && !stopper_.stopped()) {
    // Replaced by a newer run: done, not to be resumed.
    record_done(scheduled, d);
    return;
  }
  if (d.stopped) return;  // the dispatcher stops: the next one resumes this run
  record_done(scheduled, d);
}

void ScheduleRunner::record_done(Instant scheduled, const Delivered& d) {
  const char* result = d.ok ? "delivered" : "dead_lettered";
  ctx_.metrics.events
      .Add({{"namespace", fn_.ns},
            {"function", fn_.name},
            {"trigger", trigger_.name},
            {"result", result}})
      .Increment();
  const kube::ObjectRef ref{api::functions(), fn_.ns, fn_.name};
  bool told = d.ok || d.stopped;
  for (int i = 0; i < 20; ++i) {
    auto got = ctx_.client.get(ref);
    if (!got.ok()) {
      if (got.status().is_not_found()) return;
      if (!stopper_.wait(std::chrono::milliseconds(200))) return;
      continue;
    }
    json function = std::move(got).value();
    if (!told) {
      // A schedule has no dead-letter queue: the failure is a Warning Event, a log line, the
      // trigger's status message and kubefn_trigger_events_total{result="dead_lettered"}.
      told = true;
      const std::string why = "the run of " + format_time(scheduled) + " failed " +
                              std::to_string(d.attempts) +
                              " time(s) and is given up: " + d.last.reason;
      ctx_.events.record(function, "Warning", "DeliveryFailed",
                         "schedule " + trigger_.name + ": " + why);
      log_trigger(ctx_, "error", "scheduled run failed", fn_.ns, fn_.name, trigger_.name, why);
    }
    const TriggerState state = trigger_state(function, trigger_.name);
    if (state.last_completed && *state.last_completed >= scheduled) return;
    auto w = write_trigger_state(
        ctx_.client, function, trigger_.name,
        [&](json& e) {
          e["lastCompletedTime"] = format_time(scheduled);
          if (d.ok) {
            e.erase("message");
          } else if (!d.stopped) {
            e["message"] = "the run of " + format_time(scheduled) + " failed: " + d.last.reason;
          }
        },
        ctx_.field_manager);
    if (w.ok() || !w.status().is_conflict()) return;
  }
}

}  // namespace kubefn::dispatch
