// Who holds a Function's HTTP trigger host and path: one set of rules, used by the gateway
// (what it routes) and by the operator (the condition it writes), so both agree without
// either reading the other's output.
//
// A Function claims at most one host (spec.triggers.http.host) and one path prefix
// (spec.triggers.http.path). Each key has at most one holder: among the eligible claimants
// (valid syntax; for a host also not reserved and allowed for the claimant's namespace), the
// one created first (metadata.creationTimestamp), ties broken by namespace then name. A
// claimant that is not eligible never blocks the key for the others.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

// Condition reasons (Ready=False) of a refused claim.
inline constexpr const char* kHostConflictReason = "HostConflict";
inline constexpr const char* kPathConflictReason = "PathConflict";
inline constexpr const char* kHostNotAllowedReason = "HostNotAllowed";
inline constexpr const char* kInvalidTriggerReason = "InvalidTrigger";

// A claim's key (a lower-case host; a path prefix without its trailing '/'), or why the
// claim is malformed. A host is an RFC 1123 DNS name: no port, no IP literal, no trailing
// dot, any case (the key is lower-cased). A path starts with '/', is not "/", has no empty,
// "." or ".." segment, no query, fragment, whitespace, backslash or percent-encoded '/', '.'
// or '\', and is not one of the gateway's own paths (/healthz, /readyz, /metrics) or below.
struct ClaimKey {
  std::string key;
  std::string error;  // empty when the claim is well formed
  bool ok() const { return error.empty(); }
};
ClaimKey host_claim_key(std::string_view host);
ClaimKey path_claim_key(std::string_view path);

// A host pattern: an exact host, "*.suffix" (any name ending in ".suffix") or "*" (any).
bool host_matches(std::string_view pattern, std::string_view host);

// "NS=PATTERN": a host claim from namespace NS ("*": any namespace) may take a host that
// PATTERN matches.
struct HostAllowance {
  std::string ns;
  std::string pattern;
  bool matches(std::string_view ns, std::string_view host) const;
};
Result<HostAllowance> parse_host_allowance(std::string_view text);

struct ClaimPolicy {
  // Hosts no Function may claim: the gateway's own names (exact or patterns as above).
  // "localhost" and "*.localhost" are always reserved.
  std::vector<std::string> reserved_hosts;
  // A host claim is eligible only when one of these matches it. None: no host claims.
  std::vector<HostAllowance> allowances;

  bool reserved(std::string_view host) const;  // host: a claim key
  bool allowed(std::string_view ns, std::string_view host) const;
};

// What one Function claims.
struct Claimant {
  std::string ns, name;
  std::string created;  // metadata.creationTimestamp (RFC 3339, as the API writes it)
  std::string host;     // as written in the spec; empty: none
  std::string path;     // as written in the spec; empty: none
  std::string id() const { return ns + "/" + name; }
};
// A Function object's claims (namespace "default" when it has none).
Claimant claimant_of(const nlohmann::json& function);

struct ClaimProblem {
  std::string reason;   // one of the reasons above
  std::string message;  // names the holder or the rule, and what to change
};

// What a Function gets of its claims.
struct ClaimVerdict {
  std::string host;                    // the host key it holds; empty: none
  std::string path;                    // the path prefix it holds; empty: none
  std::vector<ClaimProblem> problems;  // the host's first, then the path's
  bool ok() const { return problems.empty(); }
  // The first problem's reason and every problem's message, joined by "; ".
  ClaimProblem summary() const;
};

// The claims of a set of Functions, kept up to date one Function at a time. Thread-safe.
class TriggerClaims {
 public:
  explicit TriggerClaims(ClaimPolicy policy = {});
  TriggerClaims(const TriggerClaims&) = delete;
  TriggerClaims& operator=(const TriggerClaims&) = delete;

  // Adds or replaces (remove: drops) a Function's claims. Returns the other Functions
  // ("ns/name") that claim a key it claimed before or claims now: their verdicts may have
  // changed (none when its claims are the same as before).
  std::vector<std::string> upsert(Claimant claimant);
  std::vector<std::string> remove(const std::string& ns, const std::string& name);

  // A Function not known here holds nothing and has no problem.
  ClaimVerdict verdict(const std::string& ns, const std::string& name) const;
  // "ns/name" of the holder of a host key or path prefix; empty when none.
  std::string host_holder(std::string_view host) const;
  std::string path_holder(std::string_view path) const;

  const ClaimPolicy& policy() const { return policy_; }

 private:
  struct Order {
    bool operator()(const Claimant* a, const Claimant* b) const;
  };
  struct Entry {
    Claimant claimant;
    ClaimKey host, path;  // keys; empty key: no claim
    bool host_eligible = false;
    bool path_eligible = false;
  };
  void unlink_locked(const Entry& e, std::set<std::string>* touched);
  void link_locked(const Entry& e, std::set<std::string>* touched);
  ClaimVerdict verdict_locked(const Entry& e) const;

  const ClaimPolicy policy_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // by "ns/name"
  // Eligible claimants of each key, holder first.
  std::map<std::string, std::set<const Claimant*, Order>, std::less<>> hosts_, paths_;
};

// Every Function's verdict at once, by "ns/name".
std::map<std::string, ClaimVerdict> resolve_trigger_claims(
    const std::vector<nlohmann::json>& functions, const ClaimPolicy& policy);

}  // namespace kubefn::kube
