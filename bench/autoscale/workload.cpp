#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace kubefn::bench {
namespace {

constexpr double kPercentiles[7] = {0.0, 0.01, 0.25, 0.50, 0.75, 0.99, 1.0};

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ','))
    out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

double exp_draw(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  return -std::log(1.0 - u(rng));
}

}  // namespace

double ServiceTimes::sample(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double x = u(rng);
  for (int i = 1; i < 7; ++i) {
    if (x <= kPercentiles[i]) {
      const double f = (x - kPercentiles[i - 1]) / (kPercentiles[i] - kPercentiles[i - 1]);
      return std::max(0.001, p[i - 1] + f * (p[i] - p[i - 1]));
    }
  }
  return std::max(0.001, p[6]);
}

double ServiceTimes::mean() const {
  double m = 0;
  for (int i = 1; i < 7; ++i) {
    m += (kPercentiles[i] - kPercentiles[i - 1]) * (p[i] + p[i - 1]) / 2;
  }
  return std::max(0.001, m);
}

double FunctionLoad::length_s() const {
  if (!per_minute.empty()) return 60.0 * static_cast<double>(per_minute.size());
  return arrivals.empty() ? 0.0 : std::ceil(arrivals.back()) + 1;
}

void FunctionLoad::expand(std::vector<double>* at, std::vector<double>* service_s) const {
  std::mt19937_64 rng(seed);
  at->clear();
  service_s->clear();
  if (!per_minute.empty()) {
    // Exponential gaps inside each minute, scaled so the minute's calls fit in it.
    std::vector<double> gaps;
    for (std::size_t m = 0; m < per_minute.size(); ++m) {
      const int n = per_minute[m];
      if (n <= 0) continue;
      gaps.resize(static_cast<std::size_t>(n) + 1);
      double total = 0;
      for (double& g : gaps)
        total += (g = exp_draw(rng));
      double t = 0;
      for (int i = 0; i < n; ++i) {
        t += gaps[static_cast<std::size_t>(i)];
        at->push_back(60.0 * static_cast<double>(m) + 60.0 * t / total);
      }
    }
  } else {
    *at = arrivals;
  }
  service_s->reserve(at->size());
  for (std::size_t i = 0; i < at->size(); ++i)
    service_s->push_back(service.sample(rng));
}

std::optional<Workload> load_azure(const std::string& dir, const std::string& name,
                                   std::string* error) {
  std::ifstream inv(dir + "/invocations.csv");
  std::ifstream dur(dir + "/durations.csv");
  if (!inv || !dur) {
    *error = "cannot read invocations.csv and durations.csv in " + dir;
    return std::nullopt;
  }
  std::string line;
  std::map<std::string, ServiceTimes> durations;
  std::getline(dur, line);
  const std::vector<std::string> dhead = split_csv(line);
  auto column = [&](const std::string& wanted) -> int {
    for (std::size_t i = 0; i < dhead.size(); ++i) {
      if (dhead[i] == wanted) return static_cast<int>(i);
    }
    return -1;
  };
  const char* names[7] = {"percentile_Average_0",  "percentile_Average_1",  "percentile_Average_25",
                          "percentile_Average_50", "percentile_Average_75", "percentile_Average_99",
                          "percentile_Average_100"};
  int cols[7];
  for (int i = 0; i < 7; ++i) {
    if ((cols[i] = column(names[i])) < 0) {
      *error = dir + "/durations.csv has no " + names[i] + " column";
      return std::nullopt;
    }
  }
  const int fn_col = column("HashFunction");
  if (fn_col < 0) {
    *error = dir + "/durations.csv has no HashFunction column";
    return std::nullopt;
  }
  while (std::getline(dur, line)) {
    const auto cells = split_csv(line);
    if (cells.size() < dhead.size()) continue;
    ServiceTimes st;
    for (int i = 0; i < 7; ++i)
      st.p[i] = std::atof(cells[static_cast<std::size_t>(cols[i])].c_str()) / 1000.0;
    durations[cells[static_cast<std::size_t>(fn_col)]] = st;
  }
  Workload w;
  w.name = name;
  w.source = dir.substr(dir.find_last_of('/') + 1);
  std::getline(inv, line);
  const std::vector<std::string> head = split_csv(line);
  if (head.size() < 5 || head[2] != "HashFunction" || head[3] != "Trigger") {
    *error = dir +
             "/invocations.csv does not have the HashOwner,HashApp,HashFunction,Trigger,1.. header";
    return std::nullopt;
  }
  std::uint64_t seed = 20190701;
  while (std::getline(inv, line)) {
    const auto cells = split_csv(line);
    if (cells.size() < 5) continue;
    FunctionLoad f;
    f.name = cells[2].substr(0, 8) + "/" + cells[3];
    f.seed = seed++;
    for (std::size_t i = 4; i < cells.size(); ++i)
      f.per_minute.push_back(std::atoi(cells[i].c_str()));
    auto it = durations.find(cells[2]);
    if (it == durations.end()) {
      *error = dir + ": no durations for function " + cells[2];
      return std::nullopt;
    }
    f.service = it->second;
    w.functions.push_back(std::move(f));
  }
  if (w.functions.empty()) {
    *error = dir + "/invocations.csv has no rows";
    return std::nullopt;
  }
  return w;
}

namespace {

// Poisson arrivals with a rate that changes every second.
std::vector<double> poisson(double length_s, std::uint64_t seed,
                            const std::function<double(double)>& rate) {
  std::mt19937_64 rng(seed);
  std::vector<double> out;
  for (double s = 0; s < length_s; s += 1.0) {
    const double r = rate(s);
    if (r <= 0) continue;
    double t = s + exp_draw(rng) / r;
    while (t < s + 1.0) {
      out.push_back(t);
      t += exp_draw(rng) / r;
    }
  }
  return out;
}

ServiceTimes fixed(double seconds) {
  ServiceTimes st;
  for (double& v : st.p)
    v = seconds;
  return st;
}

ServiceTimes spread(double p50) {
  ServiceTimes st;
  const double f[7] = {0.3, 0.5, 0.8, 1.0, 1.3, 3.0, 6.0};
  for (int i = 0; i < 7; ++i)
    st.p[i] = p50 * f[i];
  return st;
}

// A shape's parameters, drawn from the seed.
class Draw {
 public:
  Draw(std::uint64_t seed, std::uint64_t shape) : rng_(seed * 1000003ULL + shape) {}
  double uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng_);
  }
  // Log-uniform: as likely 1-10 as 10-100.
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
  bool chance(double p) { return uniform(0, 1) < p; }
  std::uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

std::string named(const char* shape, std::uint64_t seed) {
  return std::string(shape) + "@" + std::to_string(seed);
}

}  // namespace

std::vector<std::string> synthetic_shape_names() {
  return {"step-10x", "burst", "diurnal", "sparse", "wave", "onoff", "heavy-tail", "timer-noisy"};
}

std::vector<Workload> synthetic_workloads(std::uint64_t seed) {
  std::vector<Workload> out;
  const std::string source = "synthetic, seed " + std::to_string(seed);
  // The tuned-on shapes: seed 1 keeps their first arrivals (seeds 11 to 15).
  auto fixed_seed = [seed](std::uint64_t base) { return base + 1000 * (seed - 1); };
  {
    // 3 calls/s of 200 ms (0.6 in flight) for 10 minutes, then 30/s (6 in flight) for 10
    // minutes, then back for 10 minutes.
    Workload w{named("step-10x", seed), source, {}, 600.0, 6};
    FunctionLoad f{"step", fixed(0.2), {}, {}, fixed_seed(11)};
    f.arrivals = poisson(1800, f.seed, [](double s) { return s >= 600 && s < 1200 ? 30.0 : 3.0; });
    w.functions.push_back(f);
    out.push_back(w);
  }
  {
    // 1 call/s of ~100 ms with a 15 s burst of 40 calls/s every 5 minutes, for 2 hours.
    Workload w{named("burst", seed), source, {}, std::nullopt, 0};
    FunctionLoad f{"burst", spread(0.1), {}, {}, fixed_seed(12)};
    f.arrivals = poisson(7200, f.seed, [](double s) {
      return std::fmod(s, 300.0) >= 150 && std::fmod(s, 300.0) < 165 ? 40.0 : 1.0;
    });
    w.functions.push_back(f);
    out.push_back(w);
  }
  {
    // Two compressed days of 2 hours: a sine of up to 12 calls/s by day, nothing by night.
    Workload w{named("diurnal", seed), source, {}, std::nullopt, 0};
    FunctionLoad f{"diurnal", spread(0.25), {}, {}, fixed_seed(13)};
    f.arrivals = poisson(14400, f.seed, [](double s) {
      return std::max(0.0, 12.0 * std::sin(2 * 3.14159265358979 * s / 7200.0));
    });
    w.functions.push_back(f);
    out.push_back(w);
  }
  {
    // Rarely called, timer-like functions: a call every 10 or 30 minutes (+-20 s jitter), for
    // 12 hours.
    Workload w{named("sparse", seed), source, {}, std::nullopt, 0};
    const double periods[2] = {600.0, 1800.0};
    for (int k = 0; k < 2; ++k) {
      FunctionLoad f{k == 0 ? "every-10m" : "every-30m",
                     spread(0.5),
                     {},
                     {},
                     fixed_seed(static_cast<std::uint64_t>(14 + k))};
      std::mt19937_64 rng(f.seed);
      std::uniform_real_distribution<double> jitter(-20.0, 20.0);
      for (double t = 30; t < 43200; t += periods[k])
        f.arrivals.push_back(t + jitter(rng));
      std::sort(f.arrivals.begin(), f.arrivals.end());
      w.functions.push_back(f);
    }
    out.push_back(w);
  }
  {
    // wave: three "days" of a random length (40 to 160 minutes), load by day only (30-80% of
    // it) rising and falling as a sine to 1-15 calls/s, a trickle or nothing by night, and
    // each minute's rate off by a random factor.
    Draw d(seed, 1);
    const double day = 60 * d.uniform(40, 160);
    const double lit = d.uniform(0.3, 0.8);
    const double peak = d.log_uniform(1, 15);
    const double night = d.chance(0.5) ? d.log_uniform(0.002, 0.02) : 0.0;
    const double noise = d.uniform(0.1, 0.6);
    Workload w{named("wave", seed), source, {}, std::nullopt, 0};
    FunctionLoad f{"wave", spread(d.log_uniform(0.05, 1.0)), {}, {}, d.next()};
    std::mt19937_64 rng(d.next());
    std::normal_distribution<double> jitter(0.0, noise);
    std::vector<double> per_minute(static_cast<std::size_t>(3 * day / 60) + 1);
    for (double& m : per_minute)
      m = std::exp(jitter(rng));
    f.arrivals = poisson(3 * day, f.seed, [&](double s) {
      const double phase = std::fmod(s, day) / day;
      const double r = phase < lit ? peak * std::sin(3.14159265358979 * phase / lit) : night;
      return r * per_minute[static_cast<std::size_t>(s / 60)];
    });
    w.functions.push_back(f);
    out.push_back(w);
  }
  {
    // onoff: bursts of a random length (median 10-120 s) at 0.5-30 calls/s, separated by
    // random gaps (exponential, mean 1-20 minutes) of silence, for 4 hours.
    Draw d(seed, 2);
    const double on_median = d.log_uniform(10, 120);
    const double rate = d.log_uniform(0.5, 30);
    const double off_mean = 60 * d.log_uniform(1, 20);
    Workload w{named("onoff", seed), source, {}, std::nullopt, 0};
    FunctionLoad f{"onoff", spread(d.log_uniform(0.02, 0.5)), {}, {}, d.next()};
    std::mt19937_64 rng(d.next());
    std::lognormal_distribution<double> on_len(std::log(on_median), 0.7);
    std::exponential_distribution<double> off_len(1.0 / off_mean);
    std::exponential_distribution<double> gap(rate);
    for (double t = off_len(rng); t < 14400;) {
      const double end = std::min(14400.0, t + on_len(rng));
      for (double a = t + gap(rng); a < end; a += gap(rng))
        f.arrivals.push_back(a);
      t = end + off_len(rng);
    }
    w.functions.push_back(f);
    out.push_back(w);
  }
  {
    // heavy-tail: two functions whose gaps between calls are Pareto-distributed (shape
    // 1.1-1.9, median gap 2-60 s), so long silences follow short ones at every scale, for
    // 8 hours.
    Draw d(seed, 3);
    Workload w{named("heavy-tail", seed), source, {}, std::nullopt, 0};
    for (int k = 0; k < 2; ++k) {
      const double alpha = d.uniform(1.1, 1.9);
      const double median = d.log_uniform(2, 60);
      const double scale = median / std::pow(2.0, 1.0 / alpha);
      FunctionLoad f{
          "pareto-" + std::to_string(k), spread(d.log_uniform(0.05, 2.0)), {}, {}, d.next()};
      std::mt19937_64 rng(d.next());
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (double t = scale / std::pow(1.0 - u(rng), 1.0 / alpha); t < 28800;
           t += scale / std::pow(1.0 - u(rng), 1.0 / alpha)) {
        f.arrivals.push_back(t);
      }
      w.functions.push_back(f);
    }
    out.push_back(w);
  }
  {
    // timer-noisy: a timer of a random period (2-40 minutes) whose calls come early or late by
    // up to 1-30% of it, skip a tick now and then (0-20%) and sometimes bring a second call
    // within a minute, for 12 hours.
    Draw d(seed, 4);
    const double period = 60 * d.log_uniform(2, 40);
    const double jitter = period * d.uniform(0.01, 0.3);
    const double skip = d.uniform(0, 0.2);
    const double twice = d.uniform(0, 0.3);
    Workload w{named("timer-noisy", seed), source, {}, std::nullopt, 0};
    FunctionLoad f{"timer", spread(d.log_uniform(0.1, 3.0)), {}, {}, d.next()};
    std::mt19937_64 rng(d.next());
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (double t = period; t < 43200; t += period) {
      if (u(rng) < skip) continue;
      const double at = std::max(0.0, t + jitter * (2 * u(rng) - 1));
      f.arrivals.push_back(at);
      if (u(rng) < twice) f.arrivals.push_back(at + 60 * u(rng));
    }
    std::sort(f.arrivals.begin(), f.arrivals.end());
    w.functions.push_back(f);
    out.push_back(w);
  }
  return out;
}

}  // namespace kubefn::bench
