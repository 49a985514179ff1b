#include "kubefn/gateway/key_ring.hpp"

#include <atomic>

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

}  // namespace

KeyRing::KeyRing() : tokens_(std::make_shared<const std::vector<std::string>>()) {}

void KeyRing::set(std::vector<std::string> tokens) {
  std::vector<std::string> kept;
  for (auto& t : tokens) {
    if (!t.empty()) kept.push_back(std::move(t));
  }
  std::atomic_store(&tokens_,
                    std::shared_ptr<const std::vector<std::string>>(
                        std::make_shared<const std::vector<std::string>>(std::move(kept))));
}

bool KeyRing::valid(std::string_view token) const {
  auto tokens = std::atomic_load(&tokens_);
  if (token.empty()) return false;
  bool ok = false;
  // Compare against every token, without stopping early.
  for (const std::string& t : *tokens)
    ok |= constant_time_equal(t, token);
  return ok;
}

bool KeyRing::empty() const {
  return std::atomic_load(&tokens_)->empty();
}

std::vector<std::string> parse_key_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    if (!line.empty() && line.front() != '#') out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
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
