// Bearer tokens accepted for private functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::gateway {

// A bearer token and the functions it opens.
struct Key {
  std::string token;
  // "*" (every function), "ns/*" (every function of a namespace) or "ns/name" (one).
  // Empty: "*".
  std::vector<std::string> scopes;
};

// Thread-safe; valid() and allows() read an immutable snapshot and compare in constant time
// for a given token length, so a caller cannot learn a token byte by byte from timing.
class KeyRing {
 public:
  KeyRing();
  // Replaces every key; empty tokens are ignored.
  void set_keys(std::vector<Key> keys);
  // Replaces every key with these tokens, each opening every function.
  void set(std::vector<std::string> tokens);
  // The token is one of the ring's (whatever it opens).
  bool valid(std::string_view token) const;
  // The token is one of the ring's and a scope of it covers function ns/name.
  bool allows(std::string_view token, std::string_view ns, std::string_view name) const;
  bool empty() const;

 private:
  std::shared_ptr<const std::vector<Key>> keys_;
};

// Empty when `scope` is "*", "ns/*" or "ns/name" with Kubernetes names; else what is wrong.
std::string scope_error(std::string_view scope);
bool scope_covers(std::string_view scope, std::string_view ns, std::string_view name);

// Keys from a key file's text, one per line: "TOKEN [SCOPE[,SCOPE...]]" (whitespace between
// token and scopes; no scope: "*"); surrounding whitespace trimmed, blank lines and lines
// starting with '#' skipped. A malformed scope fails the whole text, naming the line (never
// the token), so a typo never narrows or widens what the keys open.
kube::Result<std::vector<Key>> parse_keys(std::string_view text);

// Standard base64 (as in a Secret's data values); empty on malformed input.
std::string base64_decode(std::string_view in);

}  // namespace kubefn::gateway
