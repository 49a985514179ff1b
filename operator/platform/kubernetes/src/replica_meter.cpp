#include "kubefn/platform/kubernetes/replica_meter.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>
#include <random>
#include <set>

#include "kubefn/api/function.hpp"
#include "kubefn/kube/json_fields.hpp"
#include "kubefn/platform/kubernetes/desired.hpp"

namespace kubefn::platform::kubernetes {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "1";
constexpr std::size_t kMaxPending = 100000;  // stats entries held at most

std::string key_of(const std::string& ns, const std::string& name) {
  return ns + "/" + name;
}

double seconds_of(std::int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

std::int64_t millis(std::chrono::milliseconds d) {
  return static_cast<std::int64_t>(d.count());
}

const std::string& label_of(const json& object, const char* label) {
  static const std::string kEmpty;
  const json& labels = kube::field(kube::field(object, "metadata"), "labels");
  auto it = labels.is_object() ? labels.find(label) : labels.end();
  return labels.is_object() && it != labels.end() && it->is_string()
             ? it->get_ref<const std::string&>()
             : kEmpty;
}

// What the handlers read of a Pod, and nothing else, is kept in the informer's cache.
void trim_pod(json& pod) {
  const json& meta = kube::field(pod, "metadata");
  json out_meta = json::object();
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
    if (const json& v = kube::field(meta, f); v.is_string()) out_meta[f] = v;
  }
  json labels = json::object();
  if (const std::string& fn = label_of(pod, api::kFunctionLabel); !fn.empty()) {
    labels[api::kFunctionLabel] = fn;
  }
  if (!label_of(pod, api::kBuildLabel).empty()) labels[api::kBuildLabel] = "1";
  out_meta["labels"] = std::move(labels);

  // The function container's resources (the first container when none is named so).
  json resources = json::object();
  const json& containers = kube::field(kube::field(pod, "spec"), "containers");
  if (containers.is_array() && !containers.empty()) {
    const json* chosen = &containers.front();
    for (const json& c : containers) {
      if (kube::string_field(c, "name") == kFunctionContainer) chosen = &c;
    }
    if (const json& r = kube::field(*chosen, "resources"); r.is_object()) resources = r;
  }

  const json& status = kube::field(pod, "status");
  json out = {{"metadata", std::move(out_meta)},
              {"resources", std::move(resources)},
              {"phase", kube::string_field(status, "phase")}};
  const json& conditions = kube::field(status, "conditions");
  if (conditions.is_array()) {
    for (const json& c : conditions) {
      if (kube::string_field(c, "type") != api::condition::kReady) continue;
      if (kube::string_field(c, "status") == "True") {
        out["ready"] = true;
        out["readySince"] = kube::string_field(c, "lastTransitionTime");
      }
    }
  }
  // When every container has terminated: the latest finish.
  const json& statuses = kube::field(status, "containerStatuses");
  if (statuses.is_array() && !statuses.empty()) {
    std::string latest;
    std::optional<std::int64_t> latest_ms;
    bool all = true;
    for (const json& s : statuses) {
      const json& terminated = kube::field(kube::field(s, "state"), "terminated");
      const auto at = parse_time_ms(kube::string_field(terminated, "finishedAt"));
      if (!terminated.is_object() || !at) {
        all = false;
        break;
      }
      if (!latest_ms || *at > *latest_ms) {
        latest_ms = at;
        latest = kube::string_field(terminated, "finishedAt");
      }
    }
    if (all && latest_ms) out["finishedAt"] = latest;
  }
  pod = std::move(out);
}

bool is_build(const json& trimmed) {
  return !label_of(trimmed, api::kBuildLabel).empty();
}

std::string uid_of(const json& pod) {
  const std::string uid = kube::string_field(kube::field(pod, "metadata"), "uid");
  return uid.empty() ? kube::object_key(pod) : uid;
}

std::int64_t clamp_ms(std::int64_t t, std::int64_t lo, std::int64_t hi) {
  return std::max(lo, std::min(t, hi));
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &used) != 6 ||
      used != 19) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t fraction_ms = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    std::int64_t scale = 100;
    const std::size_t digits_from = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
      fraction_ms += (text[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == digits_from) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + at + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
    offset_s = (text[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::int64_t unix_s = static_cast<std::int64_t>(timegm(&tm)) - offset_s;
  return unix_s * 1000 + fraction_ms;
}

std::string MeteringCheckpoint::resource_version() const {
  return kube::object_resource_version(object);
}

MeteringCheckpoint read_checkpoint(const json& config_map, std::int64_t now_ms) {
  MeteringCheckpoint c;
  c.object = config_map;
  if (c.object.is_object()) {
    if (auto m = c.object.find("metadata"); m != c.object.end() && m->is_object()) {
      m->erase("managedFields");
    }
  }
  auto start_over = [&] {
    c.since_ms = now_ms;
    c.pods.clear();
    c.gone.clear();
    c.writer.clear();
    return c;
  };
  const json& data = kube::field(config_map, "data");
  if (kube::string_field(data, "format") != kFormat) return start_over();
  try {
    c.since_ms = std::stoll(kube::string_field(data, "since"));
    c.writer = kube::string_field(data, "writer");
    for (const char* which : {"pods", "gone"}) {
      const std::string text = kube::string_field(data, which);
      if (text.empty()) continue;
      auto& into = std::string(which) == "pods" ? c.pods : c.gone;
      const json entries = json::parse(text);
      if (!entries.is_object()) return start_over();
      for (const auto& [uid, until] : entries.items())
        into[uid] = until.get<std::int64_t>();
    }
  } catch (const std::exception&) {
    return start_over();
  }
  return c;
}

json checkpoint_config_map(const MeteringCheckpoint& c, const std::string& ns,
                           const std::string& name) {
  json o = c.object.is_object() ? c.object : json::object();
  if (o.empty()) {
    o = {{"apiVersion", "v1"},
         {"kind", "ConfigMap"},
         {"metadata",
          {{"name", name},
           {"namespace", ns},
           {"labels",
            {{"app.kubernetes.io/part-of", "kubefn"},
             {"app.kubernetes.io/component", "metering"}}}}}};
  }
  json pods = json::object();
  for (const auto& [uid, until] : c.pods)
    pods[uid] = until;
  json gone = json::object();
  for (const auto& [uid, at] : c.gone)
    gone[uid] = at;
  o["data"] = {{"format", kFormat},
               {"since", std::to_string(c.since_ms)},
               {"writer", c.writer},
               {"pods", pods.dump()},
               {"gone", gone.dump()}};
  return o;
}

ReplicaMeter::ReplicaMeter(kube::KubeClient& client, kube::Clock& clock, metering::Meter& meter,
                           ReplicaMeterOptions options)
    : client_(client), clock_(clock), meter_(meter), options_(std::move(options)) {
  // Writer tokens are this meter's alone, even beside an earlier process of the same identity.
  std::random_device random;
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%08x%08x", random(), random());
  token_prefix_ = options_.identity + "#" + nonce + ".";
}

ReplicaMeter::~ReplicaMeter() {
  stop();
}

void ReplicaMeter::log(const std::string& level, const std::string& message) const {
  if (options_.log) options_.log(level, message);
}

std::int64_t ReplicaMeter::wall_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall_now().time_since_epoch())
      .count();
}

void ReplicaMeter::on_stats(const ReplicaSecond& s) {
  if (s.ns.empty() || s.replica.empty()) return;
  const std::string key = key_of(s.ns, s.replica);
  std::lock_guard lock(mu_);
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxPending) return;
    it = pending_.emplace(key, Pending{}).first;
  }
  Pending& p = it->second;
  // A second holds at most about a second of busy time (the readings bounding it may be a
  // little more than a second apart).
  p.busy_seconds += std::clamp(s.busy_seconds, 0.0, 2.0);
  p.cpu_seconds += std::max(0.0, s.cpu_seconds);
  if (s.rss_bytes > 0) p.rss_bytes = s.rss_bytes;
  p.reported = true;
  p.last_second_end_ms = std::max(p.last_second_end_ms, s.second_start_unix_ms + 1000);
  p.updated = clock_.now();
}

void ReplicaMeter::pod_seen(const json& pod) {
  if (is_build(pod)) return;
  const std::string fn = label_of(pod, api::kFunctionLabel);
  if (fn.empty()) return;
  const json& meta = kube::field(pod, "metadata");
  const std::string uid = uid_of(pod);
  const std::int64_t now = wall_ms();
  std::lock_guard lock(mu_);
  auto [it, inserted] = pods_.try_emplace(uid);
  Pod& p = it->second;
  if (inserted) {
    p.uid = uid;
    p.ns = kube::string_field(meta, "namespace");
    p.name = kube::string_field(meta, "name");
    p.function = fn;
    p.created_ms = parse_time_ms(kube::string_field(meta, "creationTimestamp")).value_or(now);
    functions_[{p.ns, p.function}] = true;
    // Seconds that ended before this pod existed were another's of the same name.
    auto stats = pending_.find(key_of(p.ns, p.name));
    if (stats != pending_.end() && stats->second.last_second_end_ms < p.created_ms) {
      pending_.erase(stats);
    }
  }
  if (p.removed) return;
  p.size = metering::replica_size(kube::field(pod, "resources"));
  if (!p.ready_ms && kube::field(pod, "ready") == true) {
    const auto since = parse_time_ms(kube::string_field(pod, "readySince")).value_or(now);
    p.ready_ms = clamp_ms(since, p.created_ms, std::max(p.created_ms, now));
  }
  const std::string phase = kube::string_field(pod, "phase");
  if ((phase == "Succeeded" || phase == "Failed") && !p.end_ms && !p.end_unknown) {
    if (const auto finished = parse_time_ms(kube::string_field(pod, "finishedAt"))) {
      p.end_ms = clamp_ms(*finished, p.created_ms, std::max(p.created_ms, now));
    } else if (inserted) {
      p.end_unknown = true;  // when it ended is nowhere to be read
    } else {
      p.end_ms = std::max(p.created_ms, now);
    }
  }
}

void ReplicaMeter::pod_gone(const json& pod) {
  if (is_build(pod)) return;
  const std::int64_t now = wall_ms();
  std::lock_guard lock(mu_);
  auto it = pods_.find(uid_of(pod));
  if (it == pods_.end()) return;
  Pod& p = it->second;
  p.removed = true;
  if (p.end_ms || p.end_unknown) return;
  const auto finished = parse_time_ms(kube::string_field(pod, "finishedAt"));
  p.end_ms = clamp_ms(finished.value_or(now), p.created_ms, std::max(p.created_ms, now));
}

void ReplicaMeter::watch() {
  {
    std::lock_guard lock(mu_);
    if (!began_ms_) began_ms_ = wall_ms();
  }
  std::lock_guard lock(watch_mu_);
  if (!informers_.empty()) return;
  const std::vector<std::string> scopes =
      options_.namespaces.empty() ? std::vector<std::string>{""} : options_.namespaces;
  for (const auto& ns : scopes) {
    kube::InformerOptions o;
    o.resource = kube::resources::pods();
    o.ns = ns;
    // The Function's replicas: labelled with it, and not a build Job's pod.
    o.label_selector = std::string(api::kFunctionLabel) + ",!" + api::kBuildLabel;
    o.transform = trim_pod;
    o.cache = kube::ObjectCacheOptions{std::vector<std::string>{}, true};
    informers_.push_back(std::make_unique<kube::Informer>(
        client_, clock_, o,
        kube::InformerHandlers{[this](const json& p) { pod_seen(p); },
                               [this](const json& old, const json& p) {
                                 // The same name, another pod (a StatefulSet's, say).
                                 if (uid_of(old) != uid_of(p)) pod_gone(old);
                                 pod_seen(p);
                               },
                               [this](const json& p) { pod_gone(p); }}));
  }
  for (auto& i : informers_)
    i->start();
}

bool ReplicaMeter::wait_for_sync(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::lock_guard lock(watch_mu_);
  if (informers_.empty()) return false;
  for (auto& i : informers_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!i->wait_for_sync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

bool ReplicaMeter::synced() const {
  std::lock_guard lock(watch_mu_);
  if (informers_.empty()) return false;
  for (const auto& i : informers_) {
    if (!i->has_synced()) return false;
  }
  return true;
}

ReplicaMeter::Plan ReplicaMeter::plan(const MeteringCheckpoint& cur, std::int64_t now) {
  Plan out;
  out.next = cur;
  const std::int64_t ttl = millis(options_.gone_ttl);
  for (auto it = out.next.gone.begin(); it != out.next.gone.end();) {
    if (it->second < now - ttl) {
      it = out.next.gone.erase(it);
      out.changed = true;
    } else {
      ++it;
    }
  }
  std::set<std::string> live_keys;
  for (auto& [uid, pod] : pods_) {
    if (cur.gone.count(uid) != 0) {  // counted to its end already, by us or another meter
      out.finished.push_back(uid);
      continue;
    }
    out.replicas.try_emplace({pod.ns, pod.function}, 0, 0);
    const auto known = cur.pods.find(uid);
    const std::int64_t from =
        known != cur.pods.end() ? known->second : std::max(pod.created_ms, cur.since_ms);
    std::int64_t end = now;
    if (pod.end_unknown) {
      end = from;
    } else if (pod.end_ms) {
      end = std::min(end, *pod.end_ms);
    }
    const std::string key = key_of(pod.ns, pod.name);
    if (end > from) {
      // Two stretches at most: starting up to the first Ready, busy or idle after it.
      const std::int64_t ready_at =
          pod.ready_ms ? *pod.ready_ms : std::numeric_limits<std::int64_t>::max();
      const std::int64_t split = std::clamp(ready_at, from, end);
      const double starting_s = seconds_of(split - from);
      const double ready_s = seconds_of(end - split);
      const double total_s = starting_s + ready_s;
      Pending none;
      auto pending = pending_.find(key);
      const Pending& stats = pending != pending_.end() ? pending->second : none;
      // Busy time fills the ready stretch first (calls reach a pod once it is ready), then
      // the starting one (the gateway's activation probe may route to it sooner).
      const double busy_ready = std::min(stats.busy_seconds, ready_s);
      const double busy_starting = std::min(stats.busy_seconds - busy_ready, starting_s);
      const double cpu = stats.cpu_seconds;
      auto credit = [&](bool ready, double seconds, double busy) {
        if (seconds <= 0) return;
        PodSlice slice{ready, seconds, busy, cpu * seconds / total_s, stats.rss_bytes};
        out.credits.push_back({pod.ns, pod.function, usage_of(slice, pod.size)});
      };
      credit(false, starting_s, busy_starting);
      credit(true, ready_s, busy_ready);
      out.consumed.push_back({key, busy_ready + busy_starting, cpu});
    }
    if (pod.removed) {
      out.next.pods.erase(uid);
      out.next.gone[uid] = now;
      out.finished.push_back(uid);
      out.changed = true;
      continue;
    }
    live_keys.insert(key);
    const std::int64_t until = std::max(from, end);
    if (known == cur.pods.end() || known->second != until) {
      out.next.pods[uid] = until;
      out.changed = true;
    }
    if (!pod.end_ms && !pod.end_unknown) {
      auto& [starting, ready] = out.replicas[{pod.ns, pod.function}];
      ++(pod.ready_ms ? ready : starting);
    }
  }
  // Pods the checkpoint knows and nobody sees any more went while nobody metered: what they
  // had left is not knowable; they are dropped once old enough that no meter still sees them.
  for (auto it = out.next.pods.begin(); it != out.next.pods.end();) {
    if (pods_.count(it->first) == 0 && it->second < now - ttl) {
      it = out.next.pods.erase(it);
      out.changed = true;
    } else {
      ++it;
    }
  }
  // Stats of pods never seen, once stale.
  const auto stale = clock_.now() - options_.unmatched_stats_ttl;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (live_keys.count(it->first) == 0 && it->second.updated < stale) {
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

kube::Result<json> ReplicaMeter::write(const MeteringCheckpoint& next) {
  json object =
      checkpoint_config_map(next, options_.checkpoint_namespace, options_.checkpoint_name);
  return client_.update(kube::resources::config_maps(), object, {});
}

kube::Status ReplicaMeter::load_checkpoint(std::int64_t now) {
  const kube::ObjectRef ref{kube::resources::config_maps(), options_.checkpoint_namespace,
                            options_.checkpoint_name};
  auto got = client_.get(ref);
  if (!got.ok() && got.status().is_not_found()) {
    MeteringCheckpoint fresh;
    {
      std::lock_guard lock(mu_);
      fresh.since_ms = std::min(now, began_ms_.value_or(now));
    }
    fresh.writer = token_prefix_ + "0";
    auto created = client_.create(
        kube::resources::config_maps(),
        checkpoint_config_map(fresh, options_.checkpoint_namespace, options_.checkpoint_name), {});
    if (created.ok()) {
      checkpoint_ = read_checkpoint(*created, now);
      log("info", "metering began: checkpoint " + ref.key() + " created");
      return kube::Status();
    }
    if (!created.status().is_already_exists()) return created.status();
    got = client_.get(ref);
  }
  if (!got.ok()) return got.status();
  MeteringCheckpoint read = read_checkpoint(*got, now);
  if (unsure_) {
    // The write whose answer was lost: if the checkpoint is the one it wrote, it happened.
    std::optional<Plan> plan = std::move(unsure_);
    unsure_.reset();
    if (read.writer == plan->next.writer) {
      checkpoint_ = read;
      commit(*plan, *got, true);
      return kube::Status();
    }
  }
  checkpoint_ = std::move(read);
  return kube::Status();
}

void ReplicaMeter::note_failure(const std::string& what, const kube::Status& st) {
  ++failed_writes_;
  if (failing_) return;
  failing_ = true;
  log("warn",
      "metering: " + what + " failed (nothing is credited until it succeeds): " + st.to_string());
}

void ReplicaMeter::commit(Plan& plan, const json& written, bool wrote) {
  {
    std::lock_guard lock(mu_);
    const double carry_cap = seconds_of(millis(options_.interval)) + 5.0;
    for (const Consumed& c : plan.consumed) {
      auto it = pending_.find(c.key);
      if (it == pending_.end()) continue;
      it->second.busy_seconds =
          std::clamp(it->second.busy_seconds - c.busy_seconds, 0.0, carry_cap);
      it->second.cpu_seconds = std::max(0.0, it->second.cpu_seconds - c.cpu_seconds);
    }
    for (const std::string& uid : plan.finished) {
      auto it = pods_.find(uid);
      if (it == pods_.end()) continue;
      const std::string key = key_of(it->second.ns, it->second.name);
      pods_.erase(it);
      bool reused = false;  // another pod of the same name (a StatefulSet's) takes its stats
      for (const auto& [other, p] : pods_)
        reused = reused || key_of(p.ns, p.name) == key;
      if (!reused) pending_.erase(key);
    }
    for (const auto& [fn, seen] : functions_)
      plan.replicas.try_emplace(fn, 0, 0);
  }
  MeteringCheckpoint next = std::move(plan.next);
  next.object = written;
  if (auto m = next.object.find("metadata"); m != next.object.end() && m->is_object()) {
    m->erase("managedFields");
  }
  checkpoint_ = std::move(next);
  if (wrote) ++commits_;
  for (const Credit& c : plan.credits)
    meter_.function(c.ns, c.function).add_replica_usage(c.usage);
  for (const auto& [fn, counts] : plan.replicas)
    meter_.function(fn.first, fn.second).set_replicas(counts.first, counts.second);
}

kube::Status ReplicaMeter::account() {
  std::lock_guard pass(pass_mu_);
  if (!synced()) return kube::Status(kube::StatusCode::kServiceUnavailable, "pods not listed yet");
  const std::int64_t now = wall_ms();
  if (!checkpoint_) {
    if (kube::Status st = load_checkpoint(now); !st.ok()) {
      note_failure("reading the checkpoint", st);
      return st;
    }
  }
  Plan plan;
  {
    std::lock_guard lock(mu_);
    plan = this->plan(*checkpoint_, now);
  }
  if (!plan.changed) {
    commit(plan, checkpoint_->object, false);  // nothing to credit: the gauges only
    return kube::Status();
  }
  plan.next.writer = token_prefix_ + std::to_string(++writes_);
  plan.next.object = checkpoint_->object;
  auto written = write(plan.next);
  if (!written.ok()) {
    const kube::Status st = written.status();
    note_failure("writing the checkpoint", st);
    checkpoint_.reset();  // read again before the next plan
    if (!st.is_conflict()) {
      // It may have been written all the same (the answer was lost): the next read says.
      const std::string token = plan.next.writer;
      unsure_ = std::move(plan);
      if (load_checkpoint(now).ok() && checkpoint_ && checkpoint_->writer == token) {
        failing_ = false;
        return kube::Status();  // it was, and is credited now
      }
    }
    return st;
  }
  if (failing_) log("info", "metering: the checkpoint is written again");
  failing_ = false;
  commit(plan, *written, true);
  return kube::Status();
}

void ReplicaMeter::start() {
  watch();
  std::lock_guard lock(run_mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this, next = clock_.now() + options_.interval]() mutable {
    std::unique_lock lock(run_mu_);
    while (!stopping_) {
      if (clock_.now() < next) {
        clock_.wait_until(lock, run_cv_, next);
        continue;
      }
      lock.unlock();
      (void)account();  // a failure is logged (once) and retried next time
      lock.lock();
      next = clock_.now() + options_.interval;
    }
  });
}

void ReplicaMeter::stop() {
  {
    std::lock_guard lock(run_mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (synced()) (void)account();  // the next leader resumes from here
  std::vector<std::unique_ptr<kube::Informer>> informers;
  {
    std::lock_guard lock(watch_mu_);
    informers.swap(informers_);
  }
  for (auto& i : informers)
    i->stop();
}

std::size_t ReplicaMeter::tracked_pods() const {
  std::lock_guard lock(mu_);
  return pods_.size();
}

std::uint64_t ReplicaMeter::commits() const {
  std::lock_guard lock(pass_mu_);
  return commits_;
}

std::uint64_t ReplicaMeter::failed_writes() const {
  std::lock_guard lock(pass_mu_);
  return failed_writes_;
}

std::optional<MeteringCheckpoint> ReplicaMeter::checkpoint() const {
  std::lock_guard lock(pass_mu_);
  return checkpoint_;
}

std::vector<prometheus::MetricFamily> replica_families(
    std::vector<prometheus::MetricFamily> families) {
  static const std::set<std::string> kReplicaSide = {
      "kubefn_function_replica_seconds_total", "kubefn_function_cpu_core_seconds_total",
      "kubefn_function_memory_gb_seconds_total", "kubefn_function_cost_total",
      "kubefn_function_replicas"};
  std::vector<prometheus::MetricFamily> out;
  for (auto& f : families) {
    if (kReplicaSide.count(f.name) != 0 || f.name.rfind("kubefn_price_", 0) == 0) {
      out.push_back(std::move(f));
    }
  }
  return out;
}

PriceFileWatcher::PriceFileWatcher(metering::Meter& meter, kube::Clock& clock, std::string path,
                                   std::chrono::milliseconds poll,
                                   std::function<void(const std::string&, const std::string&)> log)
    : meter_(meter), clock_(clock), file_(std::move(path)), poll_(poll), log_(std::move(log)) {}

PriceFileWatcher::~PriceFileWatcher() {
  stop();
}

bool PriceFileWatcher::check() {
  std::lock_guard lock(mu_);
  auto changed = file_.changed();
  if (!changed) return false;
  if (const auto* why = std::get_if<std::string>(&*changed)) {
    if (log_) log_("error", "price sheet not applied: " + *why + "; the prices before stay");
    return false;
  }
  meter_.set_prices(std::get<metering::PriceSheet>(*changed));
  if (log_) log_("info", "prices from " + file_.path().string() + " apply from now on");
  return true;
}

void PriceFileWatcher::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this, next = clock_.now() + poll_]() mutable {
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (clock_.now() < next) {
        clock_.wait_until(lock, cv_, next);
        continue;
      }
      lock.unlock();
      check();
      lock.lock();
      next = clock_.now() + poll_;
    }
  });
}

void PriceFileWatcher::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kubefn::platform::kubernetes
