#include "kubefn/kube/leader_elector.hpp"

#include <cstdio>
#include <ctime>

namespace kubefn::kube {

using nlohmann::json;

std::string format_micro_time(Clock::WallTime time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(micros % 1'000'000));
  return buffer;
}

LeaderElector::LeaderElector(KubeClient& client, Clock& clock, LeaderElectionConfig config,
                             LeaderCallbacks callbacks)
    : client_(client),
      clock_(clock),
      config_(std::move(config)),
      callbacks_(std::move(callbacks)) {}

LeaderElector::~LeaderElector() {
  stop();
}

ObjectRef LeaderElector::lease_ref() const {
  return ObjectRef{resources::leases(), config_.lease_namespace, config_.lease_name};
}

std::string LeaderElector::observed_leader() const {
  std::lock_guard guard(mutex_);
  return observed_holder_;
}

void LeaderElector::observe(const json& spec) {
  std::string holder = spec.is_object() ? spec.value("holderIdentity", "") : "";
  bool new_leader = false;
  {
    std::lock_guard guard(mutex_);
    if (spec == observed_spec_) return;
    observed_spec_ = spec;
    observed_at_ = clock_.now();
    new_leader = holder != observed_holder_;
    observed_holder_ = holder;
  }
  if (new_leader && !holder.empty() && callbacks_.on_new_leader) callbacks_.on_new_leader(holder);
}

json LeaderElector::desired_spec(const json& current) const {
  const std::string now = format_micro_time(clock_.wall_now());
  const bool existed = current.is_object();
  const std::string holder = existed ? current.value("holderIdentity", "") : "";
  json spec = existed ? current : json::object();
  spec["holderIdentity"] = config_.identity;
  spec["leaseDurationSeconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count();
  spec["renewTime"] = now;
  if (holder != config_.identity) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = existed ? current.value("leaseTransitions", 0) + 1 : 0;
  }
  return spec;
}

Result<bool> LeaderElector::try_acquire_or_renew() {
  auto lease = client_.get(lease_ref());
  if (!lease.ok()) {
    if (!lease.status().is_not_found()) return lease.status();
    json spec = desired_spec(json());
    json object = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec", spec}};
    auto created = client_.create(resources::leases(), object, {});
    if (!created.ok()) {
      if (created.status().is_already_exists() || created.status().is_conflict()) return false;
      return created.status();
    }
    observe((*created)["spec"]);
    return true;
  }

  json current = lease->value("spec", json::object());
  if (!current.is_object()) current = json::object();
  observe(current);
  const std::string holder = current.value("holderIdentity", "");
  const auto duration = std::chrono::seconds(current.value("leaseDurationSeconds", 0));
  Clock::TimePoint observed_at;
  {
    std::lock_guard guard(mutex_);
    observed_at = observed_at_;
  }
  if (!holder.empty() && holder != config_.identity && clock_.now() < observed_at + duration) {
    return false;
  }

  (*lease)["spec"] = desired_spec(current);
  // The resourceVersion from the read makes this a compare-and-swap: a rival's write wins.
  auto updated = client_.update(resources::leases(), *lease, {});
  if (!updated.ok()) {
    if (updated.status().is_conflict()) return false;
    return updated.status();
  }
  observe((*updated)["spec"]);
  return true;
}

Status LeaderElector::release() {
  auto lease = client_.get(lease_ref());
  if (!lease.ok()) return lease.status().is_not_found() ? Status() : lease.status();
  json& spec = (*lease)["spec"];
  if (!spec.is_object() || spec.value("holderIdentity", "") != config_.identity) return {};
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = format_micro_time(clock_.wall_now());
  auto updated = client_.update(resources::leases(), *lease, {});
  if (!updated.ok()) return updated.status();
  observe((*updated)["spec"]);
  return {};
}

void LeaderElector::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void LeaderElector::stop() {
  {
    std::lock_guard guard(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool LeaderElector::pause(Clock::Duration duration) {
  std::unique_lock lock(mutex_);
  const auto deadline = clock_.now() + duration;
  while (!stop_ && clock_.now() < deadline)
    clock_.wait_until(lock, wake_, deadline);
  return !stop_;
}

void LeaderElector::run() {
  while (!stop_) {
    auto acquired = try_acquire_or_renew();
    if (!acquired.ok() || !*acquired) {
      if (!pause(config_.retry_period)) break;
      continue;
    }
    leader_ = true;
    if (callbacks_.on_started_leading) callbacks_.on_started_leading();
    const bool stopping = !lead();
    if (stopping) {
      Status released = release();
      if (!released.ok() && callbacks_.on_release_failed) callbacks_.on_release_failed(released);
    }
    leader_ = false;
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
  }
}

bool LeaderElector::lead() {
  auto last_renew = clock_.now();
  while (pause(config_.retry_period)) {
    auto renewed = try_acquire_or_renew();
    if (renewed.ok() && *renewed) {
      last_renew = clock_.now();
      continue;
    }
    // Someone else holds or wrote the lease: it is theirs now.
    if (renewed.ok()) return true;
    if (clock_.now() - last_renew >= config_.renew_deadline) return true;
  }
  return false;
}

}  // namespace kubefn::kube
