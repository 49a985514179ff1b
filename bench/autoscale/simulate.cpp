#include "simulate.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <queue>

namespace kubefn::bench {
namespace {

constexpr std::size_t kWaitBins = 300000;  // 1 ms bins up to 300 s
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Replica {
  int id = 0;
  double ready_at = 0;
  bool ready = false;
  bool busy = false;
  bool draining = false;
  double busy_since = 0;
  double last_used = 0;
  double sec_busy = 0;
  double sec_requests = 0;
  bool sec_active = false;
};

}  // namespace

void RunFigures::add(const RunFigures& o) {
  calls += o.calls;
  cold_starts += o.cold_starts;
  replica_seconds += o.replica_seconds;
  busy_seconds += o.busy_seconds;
  if (wait_ms.size() < o.wait_ms.size()) wait_ms.resize(o.wait_ms.size());
  for (std::size_t i = 0; i < o.wait_ms.size(); ++i)
    wait_ms[i] += o.wait_ms[i];
  if (o.step_decision_s >= 0) step_decision_s = std::max(step_decision_s, o.step_decision_s);
}

double RunFigures::wait_percentile_s(double p) const {
  std::uint64_t total = 0;
  for (auto c : wait_ms)
    total += c;
  if (total == 0) return 0;
  const double wanted = p / 100.0 * static_cast<double>(total);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < wait_ms.size(); ++i) {
    cumulative += wait_ms[i];
    if (static_cast<double>(cumulative) >= wanted) return static_cast<double>(i) / 1000.0;
  }
  return static_cast<double>(wait_ms.size()) / 1000.0;
}

RunFigures simulate(const Replay& replay, Policy& policy) {
  const std::vector<double>& at = *replay.arrivals;
  const std::vector<double>& service = *replay.service;
  RunFigures fig;
  fig.wait_ms.assign(kWaitBins, 0);

  std::vector<Replica> reps;
  int next_id = 0;
  using Event = std::pair<double, int>;  // completion time, replica id
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> completions;
  std::deque<std::size_t> queue;
  double last_t = 0, sec_end = 1.0, next_tick = policy.tick_s(), queue_area = 0;
  std::size_t next_call = 0;
  int starting = 0;  // replicas not ready yet (the next readiness is looked for only then)

  auto advance = [&](double t) {
    const double dt = t - last_t;
    if (dt > 0) {
      fig.replica_seconds += static_cast<double>(reps.size()) * dt;
      queue_area += static_cast<double>(queue.size()) * dt;
      last_t = t;
    }
  };
  auto find = [&](int id) {
    return std::find_if(reps.begin(), reps.end(), [id](const Replica& r) { return r.id == id; });
  };
  auto view = [&](double now) {
    View v;
    v.now = now;
    v.queued = static_cast<int>(queue.size());
    for (const Replica& r : reps) {
      if (r.draining) continue;
      ++v.replicas;
      if (!r.ready) {
        ++v.starting;
        continue;
      }
      ++v.ready;
      if (!r.busy) {
        ++v.idle_ready;
        v.idle_for.push_back(now - r.last_used);
      }
    }
    std::sort(v.idle_for.begin(), v.idle_for.end(), std::greater<double>());
    return v;
  };
  auto apply = [&](double now, int desired) {
    if (desired < 0) return;
    if (replay.step_at_s >= 0 && now >= replay.step_at_s && fig.step_decision_s < 0 &&
        desired >= replay.step_needed) {
      fig.step_decision_s = now - replay.step_at_s;
    }
    int alive = 0;
    for (const Replica& r : reps)
      alive += r.draining ? 0 : 1;
    for (; alive < desired; ++alive) {
      Replica r;
      r.id = next_id++;
      r.ready_at = now + replay.cold_start_s;
      reps.push_back(r);
      ++starting;
    }
    while (alive > desired) {
      // Starting replicas go first (newest first), then idle ones (longest idle first), then
      // busy ones, which finish their call before going.
      int pick = -1;
      for (std::size_t i = 0; i < reps.size(); ++i) {
        const Replica& r = reps[i];
        if (r.draining) continue;
        auto rank = [](const Replica& x) { return !x.ready ? 0 : (!x.busy ? 1 : 2); };
        if (pick < 0) {
          pick = static_cast<int>(i);
          continue;
        }
        const Replica& p = reps[static_cast<std::size_t>(pick)];
        if (rank(r) < rank(p) || (rank(r) == rank(p) && rank(r) == 0 && r.ready_at > p.ready_at) ||
            (rank(r) == rank(p) && rank(r) == 1 && r.last_used < p.last_used)) {
          pick = static_cast<int>(i);
        }
      }
      Replica& victim = reps[static_cast<std::size_t>(pick)];
      policy.removed(victim.id);
      if (!victim.ready) --starting;
      if (victim.busy) {
        victim.draining = true;
      } else {
        reps.erase(reps.begin() + pick);
      }
      --alive;
    }
  };
  auto dispatch = [&](double now) {
    while (!queue.empty()) {
      Replica* best = nullptr;
      for (Replica& r : reps) {
        if (r.ready && !r.busy && !r.draining && (!best || r.last_used > best->last_used))
          best = &r;
      }
      if (!best) return;
      const std::size_t call = queue.front();
      queue.pop_front();
      const double wait = now - at[call];
      ++fig.calls;
      if (best->ready_at > at[call]) ++fig.cold_starts;
      fig.wait_ms[std::min(kWaitBins - 1, static_cast<std::size_t>(wait * 1000.0))]++;
      fig.busy_seconds += service[call];
      best->busy = true;
      best->busy_since = now;
      best->sec_requests += 1;
      best->sec_active = true;
      completions.emplace(now + service[call], best->id);
    }
  };

  apply(0, policy.initial_replicas());
  while (true) {
    const double na = next_call < at.size() ? at[next_call] : kInf;
    const double nc = completions.empty() ? kInf : completions.top().first;
    double nr = kInf;
    if (starting > 0) {
      for (const Replica& r : reps) {
        if (!r.ready) nr = std::min(nr, r.ready_at);
      }
    }
    const double ns = sec_end;
    if ((ns > replay.end_s && na == kInf && nc == kInf) || ns > replay.end_s + 3600) break;
    if (nc <= nr && nc <= na && nc <= ns) {
      const auto [t, id] = completions.top();
      completions.pop();
      advance(t);
      auto it = find(id);
      it->sec_busy += t - std::max(it->busy_since, sec_end - 1.0);
      it->busy = false;
      it->last_used = t;
      if (it->draining) {
        reps.erase(it);
      } else {
        dispatch(t);
      }
    } else if (nr <= na && nr <= ns) {
      advance(nr);
      for (Replica& r : reps) {
        if (!r.ready && r.ready_at <= nr) {
          r.ready = true;
          r.last_used = nr;
          --starting;
        }
      }
      dispatch(nr);
    } else if (na <= ns) {
      advance(na);
      queue.push_back(next_call++);
      dispatch(na);
      if (!queue.empty()) {
        apply(na, policy.on_queued(view(na)));
        dispatch(na);
      }
    } else {
      advance(ns);
      std::vector<SecondStat> stats;
      for (Replica& r : reps) {
        if (r.busy) r.sec_busy += ns - std::max(r.busy_since, ns - 1.0);
        if (r.ready) {
          stats.push_back(
              SecondStat{r.id, r.sec_requests, std::min(1.0, r.sec_busy), r.sec_active || r.busy});
        }
        r.sec_busy = r.sec_requests = 0;
        r.sec_active = r.busy;
      }
      policy.observe(ns, stats, queue_area);
      queue_area = 0;
      if (ns + 1e-9 >= next_tick) {
        apply(ns, policy.decide(view(ns)));
        dispatch(ns);
        next_tick += policy.tick_s();
      }
      sec_end += 1.0;
    }
  }
  return fig;
}

}  // namespace kubefn::bench
