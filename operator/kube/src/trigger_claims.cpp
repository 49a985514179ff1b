#include "kubefn/kube/trigger_claims.hpp"

#include <algorithm>

#include "kubefn/kube/json_fields.hpp"

namespace kubefn::kube {
namespace {

using nlohmann::json;

constexpr std::string_view kGatewayPaths[] = {"/healthz", "/readyz", "/metrics", "/async"};

std::string json_quoted(std::string_view s) {
  return json(std::string(s)).dump();
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// pchar of RFC 3986 (percent-encodings checked apart).
bool path_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  return std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos;
}

}  // namespace

ClaimKey host_claim_key(std::string_view host) {
  ClaimKey out;
  const std::string shown = json_quoted(host);
  auto bad = [&](const std::string& why) {
    out.error = "spec.triggers.http.host " + shown + " " + why;
    return out;
  };
  if (host.empty()) return bad("is empty");
  if (host.find(':') != std::string_view::npos || host.front() == '[') {
    return bad("is not a DNS name: give the name alone, without a port or an IPv6 literal");
  }
  if (host.back() == '.') return bad("ends with a dot: give the name without it");
  if (host.size() > 253) return bad("is longer than 253 characters");
  std::string key;
  key.reserve(host.size());
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty()) return bad("has an empty label");
      if (label.size() > 63) return bad("has a label longer than 63 characters");
      if (label.front() == '-' || label.back() == '-') {
        return bad("has a label that starts or ends with '-'");
      }
      if (i == host.size() && std::all_of(label.begin(), label.end(), is_digit)) {
        return bad("is an IP address, not a DNS name");
      }
      if (i < host.size()) key.push_back('.');
      label_start = i + 1;
      continue;
    }
    const char c = lower(host[i]);
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
      return bad("is not a DNS name: only letters, digits, '-' and '.' are allowed");
    }
    key.push_back(c);
  }
  out.key = std::move(key);
  return out;
}

ClaimKey path_claim_key(std::string_view path) {
  ClaimKey out;
  const std::string shown = json_quoted(path);
  auto bad = [&](const std::string& why) {
    out.error = "spec.triggers.http.path " + shown + " " + why;
    return out;
  };
  if (path.empty() || path.front() != '/') return bad("must start with '/'");
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/") return bad("would take every path: give a prefix such as /hello");
  if (path.size() > 1024) return bad("is longer than 1024 characters");
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '?' || c == '#') return bad("must not hold a query or a fragment");
    if (c == '%') {
      if (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2])) {
        return bad("has a malformed percent-encoding");
      }
      const std::string code = {lower(path[i + 1]), lower(path[i + 2])};
      if (code == "2f" || code == "2e" || code == "5c") {
        return bad("must not percent-encode '/', '.' or '\\'");
      }
      continue;
    }
    if (c != '/' && !path_char(c)) {
      return bad("has a character a path prefix cannot hold (" + json_quoted(std::string(1, c)) +
                 ")");
    }
  }
  std::size_t start = 1;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string_view seg = path.substr(start, i - start);
    if (seg.empty()) return bad("has an empty segment (\"//\")");
    if (seg == "." || seg == "..") return bad("has a \".\" or \"..\" segment");
    start = i + 1;
  }
  for (std::string_view own : kGatewayPaths) {
    if (path == own || (path.size() > own.size() && path.substr(0, own.size()) == own &&
                        path[own.size()] == '/')) {
      return bad("is the gateway's own (" + std::string(own) + "): choose another prefix");
    }
  }
  out.key = std::string(path);
  return out;
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
    std::string_view suffix = pattern.substr(1);  // ".suffix"
    return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
  }
  return pattern == host;
}

bool HostAllowance::matches(std::string_view claim_ns, std::string_view host) const {
  return (ns == "*" || ns == claim_ns) && host_matches(pattern, host);
}

Result<HostAllowance> parse_host_allowance(std::string_view text) {
  const std::size_t eq = text.find('=');
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidConfig,
                  "host allowance " + json_quoted(text) + " " + why +
                      " (expected NAMESPACE=PATTERN, PATTERN one of: a host, *.suffix, *)");
  };
  if (eq == std::string_view::npos) return bad("has no '='");
  HostAllowance a;
  a.ns = std::string(text.substr(0, eq));
  std::string pattern(text.substr(eq + 1));
  for (char& c : pattern)
    c = lower(c);
  if (a.ns.empty()) return bad("has no namespace (\"*\" for any)");
  if (a.ns != "*") {
    for (char c : a.ns) {
      if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
        return bad("has a namespace that is not a namespace name");
      }
    }
  }
  if (pattern != "*") {
    std::string_view name = pattern;
    if (name.size() > 2 && name.substr(0, 2) == "*.") name.remove_prefix(2);
    if (!host_claim_key(name).ok()) return bad("has a pattern that is not a host");
  }
  a.pattern = std::move(pattern);
  return a;
}

bool ClaimPolicy::reserved(std::string_view host) const {
  if (host_matches("localhost", host) || host_matches("*.localhost", host)) return true;
  for (const std::string& r : reserved_hosts) {
    std::string pattern = r;
    for (char& c : pattern)
      c = lower(c);
    if (host_matches(pattern, host)) return true;
  }
  return false;
}

bool ClaimPolicy::allowed(std::string_view ns, std::string_view host) const {
  return std::any_of(allowances.begin(), allowances.end(),
                     [&](const HostAllowance& a) { return a.matches(ns, host); });
}

Claimant claimant_of(const json& function) {
  const json& meta = field(function, "metadata");
  Claimant c;
  c.ns = string_field(meta, "namespace");
  if (c.ns.empty()) c.ns = "default";
  c.name = string_field(meta, "name");
  c.created = string_field(meta, "creationTimestamp");
  const json& http = field(field(field(function, "spec"), "triggers"), "http");
  c.host = string_field(http, "host");
  c.path = string_field(http, "path");
  return c;
}

ClaimProblem ClaimVerdict::summary() const {
  ClaimProblem out;
  for (const ClaimProblem& p : problems) {
    if (out.reason.empty()) out.reason = p.reason;
    if (!out.message.empty()) out.message += "; ";
    out.message += p.message;
  }
  return out;
}

bool TriggerClaims::Order::operator()(const Claimant* a, const Claimant* b) const {
  // No creationTimestamp (a route given by hand) sorts first: an admin's own route wins.
  if (a->created != b->created) return a->created < b->created;
  if (a->ns != b->ns) return a->ns < b->ns;
  return a->name < b->name;
}

TriggerClaims::TriggerClaims(ClaimPolicy policy) : policy_(std::move(policy)) {}

void TriggerClaims::unlink_locked(const Entry& e, std::set<std::string>* touched) {
  auto drop = [&](auto& index, const ClaimKey& key, bool eligible) {
    if (!eligible) return;
    auto it = index.find(key.key);
    if (it == index.end()) return;
    it->second.erase(&e.claimant);
    for (const Claimant* other : it->second)
      touched->insert(other->id());
    if (it->second.empty()) index.erase(it);
  };
  drop(hosts_, e.host, e.host_eligible);
  drop(paths_, e.path, e.path_eligible);
}

void TriggerClaims::link_locked(const Entry& e, std::set<std::string>* touched) {
  auto add = [&](auto& index, const ClaimKey& key, bool eligible) {
    if (!eligible) return;
    auto& set = index[key.key];
    for (const Claimant* other : set)
      touched->insert(other->id());
    set.insert(&e.claimant);
  };
  add(hosts_, e.host, e.host_eligible);
  add(paths_, e.path, e.path_eligible);
}

std::vector<std::string> TriggerClaims::upsert(Claimant claimant) {
  const std::string id = claimant.id();
  Entry fresh;
  fresh.claimant = std::move(claimant);
  if (!fresh.claimant.host.empty()) {
    fresh.host = host_claim_key(fresh.claimant.host);
    fresh.host_eligible = fresh.host.ok() && !policy_.reserved(fresh.host.key) &&
                          policy_.allowed(fresh.claimant.ns, fresh.host.key);
  }
  if (!fresh.claimant.path.empty()) {
    fresh.path = path_claim_key(fresh.claimant.path);
    fresh.path_eligible = fresh.path.ok();
  }
  std::set<std::string> touched;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    const Claimant& was = it->second.claimant;
    if (was.created == fresh.claimant.created && was.host == fresh.claimant.host &&
        was.path == fresh.claimant.path) {
      return {};  // the same claims: nobody's verdict moves
    }
    unlink_locked(it->second, &touched);
    it->second = std::move(fresh);
  } else {
    it = entries_.emplace(id, std::move(fresh)).first;
  }
  link_locked(it->second, &touched);
  touched.erase(id);
  return {touched.begin(), touched.end()};
}

std::vector<std::string> TriggerClaims::remove(const std::string& ns, const std::string& name) {
  std::set<std::string> touched;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ns + "/" + name);
  if (it == entries_.end()) return {};
  unlink_locked(it->second, &touched);
  entries_.erase(it);
  return {touched.begin(), touched.end()};
}

ClaimVerdict TriggerClaims::verdict_locked(const Entry& e) const {
  ClaimVerdict v;
  const Claimant& c = e.claimant;
  const std::string fix_host =
      "choose another spec.triggers.http.host or remove it; the function "
      "still answers at /" +
      c.ns + "/" + c.name + "/";
  if (!c.host.empty()) {
    if (!e.host.ok()) {
      v.problems.push_back({kInvalidTriggerReason, e.host.error});
    } else if (policy_.reserved(e.host.key)) {
      v.problems.push_back(
          {kHostNotAllowedReason,
           "host " + e.host.key + " is reserved for the gateway itself; " + fix_host});
    } else if (!policy_.allowed(c.ns, e.host.key)) {
      v.problems.push_back(
          {kHostNotAllowedReason,
           "host " + e.host.key + " is not allowed for namespace " + c.ns +
               ": host triggers need the platform admin's allowance (operator and gateway flag "
               "--allow-host " +
               c.ns + "=PATTERN, chart value hosts.allow); until then the function answers at /" +
               c.ns + "/" + c.name + "/ only"});
    } else {
      const Claimant* holder = *hosts_.find(e.host.key)->second.begin();
      if (holder == &c) {
        v.host = e.host.key;
      } else {
        v.problems.push_back({kHostConflictReason, "host " + e.host.key + " is held by " +
                                                       holder->id() + " (claimed first); " +
                                                       fix_host});
      }
    }
  }
  if (!c.path.empty()) {
    if (!e.path.ok()) {
      v.problems.push_back({kInvalidTriggerReason, e.path.error});
    } else {
      const Claimant* holder = *paths_.find(e.path.key)->second.begin();
      if (holder == &c) {
        v.path = e.path.key;
      } else {
        v.problems.push_back(
            {kPathConflictReason, "path " + e.path.key + " is held by " + holder->id() +
                                      " (claimed first); choose another spec.triggers.http.path "
                                      "or remove it; the function still answers at /" +
                                      c.ns + "/" + c.name + "/"});
      }
    }
  }
  return v;
}

ClaimVerdict TriggerClaims::verdict(const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(ns + "/" + name);
  if (it == entries_.end()) return {};
  return verdict_locked(it->second);
}

std::string TriggerClaims::host_holder(std::string_view host) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? std::string() : (*it->second.begin())->id();
}

std::string TriggerClaims::path_holder(std::string_view path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = paths_.find(path);
  return it == paths_.end() ? std::string() : (*it->second.begin())->id();
}

std::map<std::string, ClaimVerdict> resolve_trigger_claims(const std::vector<json>& functions,
                                                           const ClaimPolicy& policy) {
  TriggerClaims claims(policy);
  std::vector<std::string> ids;
  for (const json& f : functions) {
    Claimant c = claimant_of(f);
    if (c.name.empty()) continue;
    ids.push_back(c.id());
    claims.upsert(std::move(c));
  }
  std::map<std::string, ClaimVerdict> out;
  for (const std::string& id : ids) {
    const std::size_t slash = id.find('/');
    out[id] = claims.verdict(id.substr(0, slash), id.substr(slash + 1));
  }
  return out;
}

}  // namespace kubefn::kube
