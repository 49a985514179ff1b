// One schedule trigger: claims each due run in the Function's status (so a run fires once
// across restarts and leader changes), delivers it through the gateway with retries, records it
// done, and resumes a claimed run that a stopped dispatcher left unfinished.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "context.hpp"
#include "kubefn/schedule/schedule.hpp"
#include "trigger_status.hpp"

namespace kubefn::dispatch {

class ScheduleRunner final : public TriggerRunner {
 public:
  ScheduleRunner(Context& ctx, FunctionInfo fn, triggers::ScheduleTrigger trigger,
                 schedule::Schedule schedule);
  ~ScheduleRunner() override;

 private:
  struct Run {
    std::thread thread;
    std::unique_ptr<Stopper> stopper;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void loop();
  // One look: claims and starts what is due; returns when to look again.
  std::optional<Instant> tick();
  void start(Instant scheduled);
  void deliver(Instant scheduled, Stopper& stopper);
  void record_done(Instant scheduled, const Delivered& d);
  void reap();
  bool any_in_flight();
  void count(const char* result);

  Context& ctx_;
  const FunctionInfo fn_;
  const triggers::ScheduleTrigger trigger_;
  const schedule::Schedule schedule_;
  Stopper stopper_;
  bool resume_checked_ = false;
  std::optional<Instant> missed_told_;
  std::optional<Instant> forbidden_told_;
  std::mutex mu_;
  std::map<Instant, Run> runs_;  // guarded by mu_
  std::thread loop_;
};

}  // namespace kubefn::dispatch
