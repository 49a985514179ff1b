#include "kubefn/gateway/key_ring.hpp"

#include <atomic>
#include <string>

namespace kubefn::gateway {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // The length is not secret (tokens are generated with a fixed length); the bytes are.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

bool kube_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!name_char(c)) return false;
  }
  return true;
}

bool any_covers(const Key& key, std::string_view ns, std::string_view name) {
  if (key.scopes.empty()) return true;
  for (const std::string& s : key.scopes) {
    if (scope_covers(s, ns, name)) return true;
  }
  return false;
}

}  // namespace

KeyRing::KeyRing() : keys_(std::make_shared<const std::vector<Key>>()) {}

void KeyRing::set_keys(std::vector<Key> keys) {
  std::vector<Key> kept;
  for (auto& k : keys) {
    if (!k.token.empty()) kept.push_back(std::move(k));
  }
  std::atomic_store(&keys_, std::shared_ptr<const std::vector<Key>>(
                                std::make_shared<const std::vector<Key>>(std::move(kept))));
}

void KeyRing::set(std::vector<std::string> tokens) {
  std::vector<Key> keys;
  keys.reserve(tokens.size());
  for (auto& t : tokens)
    keys.push_back(Key{std::move(t), {}});
  set_keys(std::move(keys));
}

bool KeyRing::valid(std::string_view token) const {
  auto keys = std::atomic_load(&keys_);
  if (token.empty()) return false;
  bool ok = false;
  // Compare against every token, without stopping early.
  for (const Key& k : *keys)
    ok |= constant_time_equal(k.token, token);
  return ok;
}

bool KeyRing::allows(std::string_view token, std::string_view ns, std::string_view name) const {
  auto keys = std::atomic_load(&keys_);
  if (token.empty()) return false;
  bool ok = false;
  // Every token is compared, without stopping early; scopes are not secret.
  for (const Key& k : *keys) {
    const bool same = constant_time_equal(k.token, token);
    ok |= same && any_covers(k, ns, name);
  }
  return ok;
}

bool KeyRing::empty() const {
  return std::atomic_load(&keys_)->empty();
}

std::string scope_error(std::string_view scope) {
  if (scope == "*") return {};
  const std::size_t slash = scope.find('/');
  if (slash == std::string_view::npos) {
    return "scope \"" + std::string(scope) + "\" is not *, NAMESPACE/* or NAMESPACE/NAME";
  }
  std::string_view ns = scope.substr(0, slash);
  std::string_view name = scope.substr(slash + 1);
  if (!kube_name(ns) || ns.find('.') != std::string_view::npos) {
    return "scope \"" + std::string(scope) + "\" does not start with a namespace name";
  }
  if (name != "*" && !kube_name(name)) {
    return "scope \"" + std::string(scope) + "\" does not end with a function name or *";
  }
  return {};
}

bool scope_covers(std::string_view scope, std::string_view ns, std::string_view name) {
  if (scope == "*") return true;
  const std::size_t slash = scope.find('/');
  if (slash == std::string_view::npos || scope.substr(0, slash) != ns) return false;
  std::string_view s = scope.substr(slash + 1);
  return s == "*" || s == name;
}

kube::Result<std::vector<Key>> parse_keys(std::string_view text) {
  std::vector<Key> out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    if (nl == std::string_view::npos) {
      text = {};
    } else {
      text.remove_prefix(nl + 1);
    }
    if (line.empty() || line.front() == '#') continue;
    std::size_t ws = line.find_first_of(" \t");
    Key key;
    key.token = std::string(line.substr(0, ws));
    std::string_view scopes =
        ws == std::string_view::npos ? std::string_view() : trim(line.substr(ws));
    if (scopes.find_first_of(" \t") != std::string_view::npos) {
      return kube::Status(kube::StatusCode::kInvalidConfig,
                          "line " + std::to_string(line_no) +
                              ": scopes are one comma-separated list after the token");
    }
    while (!scopes.empty()) {
      std::size_t comma = scopes.find(',');
      std::string_view scope = scopes.substr(0, comma);
      if (std::string why = scope_error(scope); !why.empty()) {
        return kube::Status(kube::StatusCode::kInvalidConfig,
                            "line " + std::to_string(line_no) + ": " + why);
      }
      key.scopes.emplace_back(scope);
      if (comma == std::string_view::npos) break;
      scopes.remove_prefix(comma + 1);
      if (scopes.empty()) {
        return kube::Status(kube::StatusCode::kInvalidConfig,
                            "line " + std::to_string(line_no) + ": the scope list ends with ','");
      }
    }
    out.push_back(std::move(key));
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : in) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return {};  // data after padding
    int v = value(c);
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (pad > 2) return {};
  return out;
}

}  // namespace kubefn::gateway
