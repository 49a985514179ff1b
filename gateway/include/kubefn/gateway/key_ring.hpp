// Bearer tokens accepted for private functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::gateway {

// Thread-safe; valid() reads an immutable snapshot and compares in constant time for a
// given token length, so a caller cannot learn a token byte by byte from timing.
class KeyRing {
 public:
  KeyRing();
  // Replaces every token; empty strings are ignored.
  void set(std::vector<std::string> tokens);
  bool valid(std::string_view token) const;
  bool empty() const;

 private:
  std::shared_ptr<const std::vector<std::string>> tokens_;
};

// Tokens from a key file's text: one per line, surrounding whitespace trimmed, blank lines
// and lines starting with '#' skipped.
std::vector<std::string> parse_key_lines(std::string_view text);

// Standard base64 (as in a Secret's data values); empty on malformed input.
std::string base64_decode(std::string_view in);

}  // namespace kubefn::gateway
