#include "local_meter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "kubefn/kube/json_fields.hpp"

namespace kubefn::platform::local::detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// User + system CPU seconds of a live process, from /proc/<pid>/stat; nothing when gone.
std::optional<double> process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  // Fields after the command: state (3) ... utime (14), stime (15).
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::strtod(f.c_str(), nullptr);
    if (i == 15) stime = std::strtod(f.c_str(), nullptr);
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (utime + stime) / ticks;
}

// Resident bytes of a live process, from /proc/<pid>/statm; nothing when gone.
std::optional<double> process_rss_bytes(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  double size = 0, resident = 0;
  if (!(in >> size >> resident)) return std::nullopt;
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  return resident * page;
}

std::int64_t query_seconds(std::string_view query, std::int64_t fallback) {
  // since=SECONDS, or a duration: 90s, 15m, 6h, 7d.
  const auto at = query.find("since=");
  if (at == std::string_view::npos) return fallback;
  std::string v(query.substr(at + 6));
  if (const auto amp = v.find('&'); amp != std::string::npos) v.resize(amp);
  char* end = nullptr;
  const double n = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || !std::isfinite(n) || n <= 0) {
    throw std::invalid_argument("since=" + v + " is not a duration (seconds, or 15m, 6h, 7d)");
  }
  const std::string unit(end);
  double factor = 1;
  if (unit == "m") {
    factor = 60;
  } else if (unit == "h") {
    factor = 3600;
  } else if (unit == "d") {
    factor = 86400;
  } else if (!unit.empty() && unit != "s") {
    throw std::invalid_argument("since=" + v + " is not a duration (seconds, or 15m, 6h, 7d)");
  }
  return static_cast<std::int64_t>(std::ceil(n * factor));
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --price KEY=VALUE as a JSON patch of the sheet: dotted keys nest, numbers stay numbers.
json price_patch(const std::vector<std::string>& flags) {
  json patch = json::object();
  for (const auto& f : flags) {
    const auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw std::runtime_error("--price " + f + ": write KEY=VALUE, e.g. cpuCoreHour=0.05");
    }
    const std::string key = f.substr(0, eq), value = f.substr(eq + 1);
    json* at = &patch;
    std::size_t from = 0;
    for (std::size_t dot; (dot = key.find('.', from)) != std::string::npos; from = dot + 1) {
      json& next = (*at)[key.substr(from, dot - from)];
      if (!next.is_object()) next = json::object();
      at = &next;
    }
    char* end = nullptr;
    const double n = std::strtod(value.c_str(), &end);
    json v = (!value.empty() && end == value.c_str() + value.size()) ? json(n) : json(value);
    (*at)[key.substr(from)] = v;
  }
  return patch;
}

metering::PriceSheet with_flags(const metering::PriceSheet& base, const json& patch) {
  if (patch.empty()) return base;
  json doc = metering::to_json(base);
  doc.merge_patch(patch);
  auto parsed = metering::parse_price_sheet(doc.dump());
  if (auto* why = std::get_if<std::string>(&parsed)) throw std::runtime_error("--price: " + *why);
  return std::get<metering::PriceSheet>(parsed);
}

}  // namespace

LocalMeter::LocalMeter(metering::Meter& meter, gateway::RouteTable& routes,
                       LocalMeterOptions options)
    : meter_(meter),
      routes_(routes),
      options_(std::move(options)),
      history_((fs::create_directories(options_.dir), options_.dir / "history.jsonl")) {
  if (options_.prices_file) price_file_.emplace(*options_.prices_file);
  check_prices(true);
  if (auto last = history_.last()) meter_.restore(last->functions);
  events_.open(options_.dir / "events.jsonl", std::ios::app);
  if (!events_)
    throw std::runtime_error("cannot write " + (options_.dir / "events.jsonl").string());
}

LocalMeter::~LocalMeter() {
  stop();
}

void LocalMeter::check_prices(bool initial) {
  const json patch = price_patch(options_.price_flags);
  if (!price_file_) {
    if (initial) meter_.set_prices(with_flags(metering::PriceSheet{}, patch));
    return;
  }
  auto changed = price_file_->changed();
  if (!changed) return;
  if (auto* why = std::get_if<std::string>(&*changed)) {
    if (initial) throw std::runtime_error(*why);
    // A bad edit changes nothing: the prices read before stay.
    json line = {{"level", "error"},
                 {"msg", "price sheet not applied: " + *why + "; keeping the prices before"}};
    std::lock_guard lock(mu_);
    events_ << line.dump() << "\n" << std::flush;
    return;
  }
  meter_.set_prices(with_flags(std::get<metering::PriceSheet>(*changed), patch));
}

void LocalMeter::on_event(const ReplicaEvent& e) {
  std::lock_guard lock(queue_mu_);
  queue_.push_back(e);
}

void LocalMeter::start() {
  thread_ = std::thread([this] { loop(); });
}

void LocalMeter::stop() {
  {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  tick(Clock::now());
  sample(true);
}

void LocalMeter::loop() {
  std::unique_lock lock(stop_mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      tick(Clock::now());
      sample(false);
      check_prices(false);
    } catch (const std::exception& e) {
      std::lock_guard l(mu_);
      events_ << json{{"level", "error"}, {"msg", std::string("metering: ") + e.what()}}.dump()
              << "\n"
              << std::flush;
    }
    lock.lock();
    stop_cv_.wait_for(lock, options_.tick, [this] { return stopping_; });
  }
}

void LocalMeter::tick_now() {
  tick(Clock::now());
  sample(true);
}

void LocalMeter::tick(Clock::time_point now) {
  std::vector<ReplicaEvent> events;
  {
    std::lock_guard lock(queue_mu_);
    events.swap(queue_);
  }
  std::lock_guard lock(mu_);
  if (now >= next_sizes_) {
    refresh_sizes();
    next_sizes_ = now + std::chrono::seconds(5);
  }
  for (const auto& e : events)
    handle(e);
  std::map<FunctionKey, std::pair<int, int>> counts;
  for (auto& [id, r] : runs_) {
    account(r, now, std::nullopt);
    auto& c = counts[r.key];
    (r.ready ? c.second : c.first) += 1;
  }
  // Every function metered so far shows its replicas now, zero included.
  for (const auto& t : meter_.totals()) {
    const auto it = counts.find(FunctionKey{t.ns, t.name});
    const auto [starting, ready] = it == counts.end() ? std::pair(0, 0) : it->second;
    meter_.function(t.ns, t.name).set_replicas(starting, ready);
  }
  for (const auto& [key, c] : counts)
    meter_.function(key.ns, key.name).set_replicas(c.first, c.second);
}

void LocalMeter::handle(const ReplicaEvent& e) {
  log_event(e);
  const auto id = std::pair(e.key.str(), e.replica);
  switch (e.kind) {
    case ReplicaEvent::Kind::kSpawned: {
      Run r;
      r.key = e.key;
      r.replica = e.replica;
      r.run = e.run;
      r.pid = e.pid;
      r.container = e.container;
      r.last = e.at;
      runs_[id] = std::move(r);
      return;
    }
    case ReplicaEvent::Kind::kReady: {
      auto it = runs_.find(id);
      if (it == runs_.end() || it->second.run != e.run) return;
      account(it->second, e.at, std::nullopt, /*read_busy=*/false);
      it->second.ready = true;
      return;
    }
    case ReplicaEvent::Kind::kExited: {
      auto it = runs_.find(id);
      if (it == runs_.end() || it->second.run != e.run) return;
      account(it->second, e.at, e.container ? std::optional<double>() : e.cpu_seconds);
      runs_.erase(it);
      return;
    }
  }
}

void LocalMeter::find_load(Run& r) {
  if (r.load) return;
  auto route = routes_.find(r.key.ns, r.key.name);
  if (!route) return;
  for (std::size_t i = 0; i < route->endpoints.size() && i < route->loads.size(); ++i) {
    if (route->endpoints[i].id == r.replica) {
      r.load = route->loads[i];
      r.busy_seen = 0;  // the endpoint is this run's alone: its whole busy time is the run's
      return;
    }
  }
}

void LocalMeter::account(Run& r, Clock::time_point until, std::optional<double> cpu_total,
                         bool read_busy) {
  const double seconds = seconds_between(r.last, until);
  if (seconds <= 0) return;
  // The endpoint's busy clock: found once the gateway lists the replica (calls before that
  // cannot reach it), read until the run ends.
  double busy = 0;
  find_load(r);
  if (r.load && read_busy) {
    const double now_busy = r.load->busy_seconds();
    busy = now_busy - r.busy_seen;
    r.busy_seen = now_busy;
  }
  double cpu = 0;
  if (!r.container) {
    if (!cpu_total) cpu_total = process_cpu_seconds(r.pid);
    if (cpu_total) {
      cpu = *cpu_total - r.cpu_seen;
      r.cpu_seen = *cpu_total;
    }
    if (auto rss = process_rss_bytes(r.pid)) r.rss_bytes = *rss;
  }
  const metering::ReplicaSlice slice{r.ready, seconds, busy, cpu, r.rss_bytes};
  const auto size = sizes_.find(r.key);
  const metering::ReplicaUsage usage =
      metering::usage_of(slice, size == sizes_.end() ? metering::ReplicaSize{} : size->second);
  meter_.function(r.key.ns, r.key.name).add_replica_usage(usage);
  r.last = until;
}

void LocalMeter::refresh_sizes() {
  if (!options_.list_functions) return;
  for (const auto& fn : options_.list_functions()) {
    const json& meta = kube::field(fn, "metadata");
    FunctionKey key{kube::string_field(meta, "namespace"), kube::string_field(meta, "name")};
    if (key.ns.empty()) key.ns = "default";
    sizes_[key] = metering::replica_size(kube::field(kube::field(fn, "spec"), "resources"));
  }
}

metering::Sample LocalMeter::current() const {
  return metering::Sample{unix_now(), meter_.totals()};
}

void LocalMeter::sample(bool force) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  if (!force && now < next_sample_) return;
  next_sample_ = now + options_.history_step;
  history_.append(current());
}

void LocalMeter::log_event(const ReplicaEvent& e) {
  // The platform's own record of each run (what bench/metering checks replica time against).
  const auto steady_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(e.at.time_since_epoch()).count();
  json line = {{"event", std::string(to_string(e.kind))},
               {"namespace", e.key.ns},
               {"function", e.key.name},
               {"replica", e.replica},
               {"run", e.run},
               {"pid", e.pid},
               {"steady_ns", steady_ns},
               {"unix", unix_now()}};
  if (e.kind == ReplicaEvent::Kind::kExited && !e.container) line["cpu_seconds"] = e.cpu_seconds;
  events_ << line.dump() << "\n" << std::flush;
}

std::string LocalMeter::cost_json(std::string_view query) {
  const std::int64_t window = query_seconds(query, 3600);
  std::lock_guard lock(mu_);
  return metering::to_json(history_.report(current(), window, meter_.prices())).dump();
}

std::string LocalMeter::history_json(std::string_view query) {
  const std::int64_t window = query_seconds(query, 3600);
  std::lock_guard lock(mu_);
  const metering::Sample now = current();
  std::vector<metering::Sample> samples = history_.since(now.unix_seconds - window);
  samples.push_back(now);
  // At most about 360 points: every k-th sample, the latest always.
  constexpr std::size_t kMaxPoints = 360;
  const std::size_t k = (samples.size() + kMaxPoints - 1) / kMaxPoints;
  json out = json::array();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (k > 1 && i % k != 0 && i + 1 != samples.size()) continue;
    json fns = json::array();
    for (const auto& t : samples[i].functions)
      fns.push_back(metering::to_json(t));
    out.push_back({{"t", samples[i].unix_seconds}, {"functions", std::move(fns)}});
  }
  return json{{"step_seconds", options_.history_step.count() * static_cast<std::int64_t>(k)},
              {"samples", std::move(out)}}
      .dump();
}

}  // namespace kubefn::platform::local::detail
