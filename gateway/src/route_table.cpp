#include "kubefn/gateway/route_table.hpp"

#include <algorithm>

namespace kubefn::gateway {
namespace {

std::string key_of(std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(ns.size() + name.size() + 1);
  k.append(ns);
  k.push_back('/');
  k.append(name);
  return k;
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::atomic<std::uint64_t> g_next_table_id{1};

// Whether the activation probe may say that `e` takes calls (see RouteTable::set_probed).
bool probe_allowed(const Endpoint& e, const EndpointLoad& load) {
  return e.started && !e.ready && !e.host.empty() &&
         !load.seen_ready.load(std::memory_order_relaxed);
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Under the lock the count is read again, so two transitions racing (the last call ending as
// a new one begins) leave the state the count says, whichever order they take the lock in.
void EndpointLoad::mark_busy() {
  std::lock_guard lock(busy_mu_);
  const bool busy = inflight.load(std::memory_order_relaxed) > 0;
  if (busy == busy_) return;
  const std::int64_t now = steady_ns();
  if (busy) {
    busy_since_ns_ = now;
  } else {
    busy_total_ns_ += std::max<std::int64_t>(0, now - busy_since_ns_);
  }
  busy_ = busy;
}

double EndpointLoad::busy_seconds() const {
  std::lock_guard lock(busy_mu_);
  std::int64_t total = busy_total_ns_;
  if (busy_) total += std::max<std::int64_t>(0, steady_ns() - busy_since_ns_);
  return static_cast<double>(total) / 1e9;
}

struct RouteTable::Snapshot {
  std::unordered_map<std::string, std::shared_ptr<const FunctionRoute>, StringHash, std::equal_to<>>
      by_key;
  std::unordered_map<std::string, std::shared_ptr<const FunctionRoute>, StringHash, std::equal_to<>>
      by_host;
  std::unordered_map<std::string, std::shared_ptr<const FunctionRoute>, StringHash, std::equal_to<>>
      by_path;
};

RouteTable::RouteTable(kube::ClaimPolicy policy)
    : current_(std::make_shared<Snapshot>()),
      table_id_(g_next_table_id.fetch_add(1)),
      claims_(std::make_unique<kube::TriggerClaims>(std::move(policy))) {}

RouteTable::~RouteTable() = default;

const RouteTable::Snapshot& RouteTable::snapshot() const {
  struct Cache {
    std::uint64_t table = 0;
    std::uint64_t version = 0;
    std::shared_ptr<const Snapshot> snap;
  };
  thread_local Cache cache;
  const std::uint64_t v = version_.load(std::memory_order_acquire);
  if (cache.table != table_id_ || cache.version != v) {
    std::lock_guard<std::mutex> lock(mu_);
    cache.snap = current_;
    cache.table = table_id_;
    cache.version = version_.load(std::memory_order_relaxed);
  }
  return *cache.snap;
}

std::shared_ptr<const FunctionRoute> RouteTable::find(std::string_view ns,
                                                      std::string_view name) const {
  thread_local std::string key;
  key.clear();
  key.append(ns);
  key.push_back('/');
  key.append(name);
  const Snapshot& s = snapshot();
  auto it = s.by_key.find(std::string_view(key));
  return it == s.by_key.end() ? nullptr : it->second;
}

std::shared_ptr<const FunctionRoute> RouteTable::find_host(std::string_view host) const {
  const Snapshot& s = snapshot();
  if (s.by_host.empty() || host.empty()) return nullptr;
  // Strip ":port" (but not from a bracketed IPv6 literal's inside).
  std::size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  thread_local std::string key;
  key.assign(host);
  for (char& c : key) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  auto it = s.by_host.find(std::string_view(key));
  return it == s.by_host.end() ? nullptr : it->second;
}

std::shared_ptr<const FunctionRoute> RouteTable::find_path(std::string_view target,
                                                           std::string* upstream_target) const {
  const Snapshot& s = snapshot();
  if (s.by_path.empty() || target.empty() || target.front() != '/') return nullptr;
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q);
  // Longest first: the whole path, then up to each '/' from the right.
  std::size_t end = path.size();
  while (end > 0) {
    const std::string_view prefix = path.substr(0, end);
    auto it = s.by_path.find(prefix);
    if (it != s.by_path.end()) {
      const std::string_view rest = path.substr(end);
      upstream_target->assign(rest.empty() ? std::string_view("/") : rest);
      upstream_target->append(query);
      return it->second;
    }
    end = path.rfind('/', end - 1);
    if (end == std::string_view::npos) break;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const FunctionRoute>> RouteTable::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const FunctionRoute>> out;
  out.reserve(current_->by_key.size());
  for (const auto& [k, r] : current_->by_key)
    out.push_back(r);
  return out;
}

std::shared_ptr<const FunctionRoute> RouteTable::build_locked(FunctionRoute route) {
  const std::string key = key_of(route.ns, route.name);
  auto& state = states_[key];
  if (!state) state = std::make_shared<FunctionState>();
  route.state = state;
  auto ep = endpoints_.find(key);
  route.endpoints = ep == endpoints_.end() ? std::vector<Endpoint>{} : ep->second;
  route.loads.clear();
  route.ready_endpoints = 0;
  std::map<std::string, std::shared_ptr<EndpointLoad>> loads;
  for (Endpoint& e : route.endpoints) {
    std::string lk = e.id + "|" + e.host + "|" + std::to_string(e.port);
    auto old = state->loads.find(lk);
    auto load =
        old != state->loads.end() ? old->second : std::make_shared<EndpointLoad>(e.host, e.port);
    // The platform's word wins over the activation probe's: a probed endpoint stays so only
    // while it runs, is not ready and was never seen ready.
    if (e.ready) load->seen_ready.store(true, std::memory_order_relaxed);
    if (!probe_allowed(e, *load)) load->probed = false;
    e.probed = load->probed;
    loads[lk] = load;
    route.loads.push_back(std::move(load));
    if (e.routable()) ++route.ready_endpoints;
  }
  for (auto& [lk, load] : state->loads) {
    if (!loads.count(lk)) load->removed.store(true, std::memory_order_relaxed);
  }
  state->loads = std::move(loads);
  return std::make_shared<const FunctionRoute>(std::move(route));
}

void RouteTable::publish_locked() {
  auto snap = std::make_shared<Snapshot>();
  std::vector<std::pair<FunctionState*, int>> pumps;
  for (const auto& [key, route] : routes_) {
    FunctionRoute with_claims = route;
    with_claims.claims = claims_->verdict(route.ns, route.name);
    auto built = build_locked(std::move(with_claims));
    if (!built->claims.host.empty()) snap->by_host.emplace(built->claims.host, built);
    if (!built->claims.path.empty()) snap->by_path.emplace(built->claims.path, built);
    pumps.emplace_back(built->state.get(), built->limit());
    snap->by_key.emplace(key, std::move(built));
  }
  current_ = std::move(snap);
  version_.fetch_add(1, std::memory_order_acq_rel);
  // More capacity (more ready replicas) lets queued calls go.
  for (auto& [state, limit] : pumps)
    state->limiter.pump(limit);
}

void RouteTable::upsert(FunctionRoute route) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = key_of(route.ns, route.name);
  if (!route.endpoints.empty()) endpoints_[key] = route.endpoints;
  route.state.reset();
  route.loads.clear();
  claims_->upsert(kube::Claimant{route.ns, route.name, route.created, route.host, route.path});
  routes_[key] = std::move(route);
  publish_locked();
}

void RouteTable::set_claim_policy(kube::ClaimPolicy policy) {
  std::lock_guard<std::mutex> lock(mu_);
  claims_ = std::make_unique<kube::TriggerClaims>(std::move(policy));
  for (const auto& [key, r] : routes_)
    claims_->upsert(kube::Claimant{r.ns, r.name, r.created, r.host, r.path});
  publish_locked();
}

void RouteTable::remove(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = key_of(ns, name);
  routes_.erase(key);
  endpoints_.erase(key);
  claims_->remove(ns, name);
  auto st = states_.find(key);
  if (st != states_.end()) {
    st->second->removed.store(true);
    for (auto& [lk, load] : st->second->loads)
      load->removed.store(true, std::memory_order_relaxed);
    states_.erase(st);
  }
  publish_locked();
}

void RouteTable::set_endpoints(const std::string& ns, const std::string& name,
                               std::vector<Endpoint> endpoints) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = key_of(ns, name);
  endpoints_[key] = std::move(endpoints);
  if (routes_.count(key)) publish_locked();
}

bool RouteTable::set_probed(const std::string& ns, const std::string& name,
                            const EndpointLoad* load, bool probed) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = key_of(ns, name);
  auto st = states_.find(key);
  auto ep = endpoints_.find(key);
  if (st == states_.end() || ep == endpoints_.end() || !routes_.count(key)) return false;
  for (const Endpoint& e : ep->second) {
    auto it = st->second->loads.find(e.id + "|" + e.host + "|" + std::to_string(e.port));
    if (it == st->second->loads.end() || it->second.get() != load) continue;
    EndpointLoad& l = *it->second;
    if (l.probed == probed || (probed && !probe_allowed(e, l))) return false;
    l.probed = probed;
    publish_locked();
    return true;
  }
  return false;
}

int choose_endpoint(const FunctionRoute& route, std::uint64_t start,
                    const std::vector<int>& exclude) {
  const std::size_t n = route.endpoints.size();
  if (n == 0) return -1;
  int best = -1;
  int best_load = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    if (!route.endpoints[i].routable()) continue;
    if (std::find(exclude.begin(), exclude.end(), static_cast<int>(i)) != exclude.end()) continue;
    const int load = i < route.loads.size() && route.loads[i]
                         ? route.loads[i]->inflight.load(std::memory_order_relaxed)
                         : 0;
    if (best < 0 || load < best_load) {
      best = static_cast<int>(i);
      best_load = load;
    }
  }
  return best;
}

}  // namespace kubefn::gateway
