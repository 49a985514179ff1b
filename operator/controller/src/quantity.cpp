#include "kubefn/controller/quantity.hpp"

#include <algorithm>
#include <cctype>

namespace kubefn::controller {
namespace {

// (2^63 - 1) units in nano-units: the API server caps quantities there.
constexpr std::string_view kMaxNanos = "9223372036854775807000000000";

bool fail(std::string* why, const char* text) {
  if (why != nullptr) *why = text;
  return false;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The suffix's power of ten and power of two, as resource.Quantity reads them: a decimal SI
// suffix, a binary SI suffix, or a decimal exponent (e3, E-2).
bool suffix_scale(std::string_view s, long* ten, int* two) {
  *ten = 0;
  *two = 0;
  static constexpr std::pair<std::string_view, int> kDecimal[] = {
      {"", 0},  {"n", -9}, {"u", -6}, {"m", -3}, {"k", 3},
      {"M", 6}, {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  for (const auto& [name, exp] : kDecimal) {
    if (s == name) {
      *ten = exp;
      return true;
    }
  }
  static constexpr std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  for (const auto& [name, exp] : kBinary) {
    if (s == name) {
      *two = exp;
      return true;
    }
  }
  if (s.size() < 2 || (s[0] != 'e' && s[0] != 'E')) return false;
  std::size_t i = 1;
  bool minus = false;
  if (s[i] == '+' || s[i] == '-') minus = s[i++] == '-';
  if (i == s.size()) return false;
  long exp = 0;
  for (; i < s.size(); ++i) {
    if (!is_digit(s[i])) return false;
    // Far beyond any quantity either way; the value is then too large or rounds up to 1n.
    exp = std::min<long>(exp * 10 + (s[i] - '0'), 1'000'000);
  }
  *ten = minus ? -exp : exp;
  return true;
}

// `digits` (decimal, most significant first) times two.
void double_digits(std::string& digits) {
  int carry = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    const int d = (*it - '0') * 2 + carry;
    *it = static_cast<char>('0' + d % 10);
    carry = d / 10;
  }
  if (carry != 0) digits.insert(digits.begin(), static_cast<char>('0' + carry));
}

}  // namespace

std::optional<Quantity> parse_quantity(std::string_view text, std::string* why) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && space(text.back()))
    text.remove_suffix(1);

  Quantity q;
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) q.negative = text[i++] == '-';
  std::string digits;
  std::size_t fraction = 0;
  while (i < text.size() && is_digit(text[i]))
    digits.push_back(text[i++]);
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && is_digit(text[i])) {
      digits.push_back(text[i++]);
      ++fraction;
    }
  }
  long ten = 0;
  int two = 0;
  // The API server also takes "", "+", "." and a bare suffix as zero; a digit is required here.
  if (digits.empty() || !suffix_scale(text.substr(i), &ten, &two)) {
    fail(why, "is not a quantity");
    return std::nullopt;
  }

  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  if (digits.empty()) {
    q.negative = false;
    return q;
  }
  // value = digits * 10^shift * 2^two nano-units, rounded up to a whole nano-unit.
  const long shift = ten - static_cast<long>(fraction) + 9;
  const long length = static_cast<long>(digits.size());
  if (shift >= 0 && length + shift > static_cast<long>(kMaxNanos.size()) + 1) {
    fail(why, "is too large");
    return std::nullopt;
  }
  if (shift < 0 && -shift > length + 20) {  // below one nano-unit even times 2^60
    q.nanos = 1;
    return q;
  }
  for (int b = 0; b < two; ++b)
    double_digits(digits);
  if (shift >= 0) {
    digits.append(static_cast<std::size_t>(shift), '0');
  } else {
    const std::size_t drop = static_cast<std::size_t>(-shift);
    bool rest = false;
    if (drop >= digits.size()) {
      rest = true;  // digits is not zero
      digits = "0";
    } else {
      rest = digits.find_first_not_of('0', digits.size() - drop) != std::string::npos;
      digits.resize(digits.size() - drop);
    }
    if (rest) {  // round up, as the API server does
      std::size_t at = digits.size();
      while (at > 0 && digits[at - 1] == '9')
        digits[--at] = '0';
      if (at == 0) {
        digits.insert(digits.begin(), '1');
      } else {
        ++digits[at - 1];
      }
    }
    digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
  }
  if (digits.size() > kMaxNanos.size() ||
      (digits.size() == kMaxNanos.size() && std::string_view(digits) > kMaxNanos)) {
    fail(why, "is too large");
    return std::nullopt;
  }
  for (char c : digits)
    q.nanos = q.nanos * 10 + static_cast<unsigned>(c - '0');
  return q;
}

int compare(const Quantity& a, const Quantity& b) {
  const bool a_neg = a.negative && !a.is_zero();
  const bool b_neg = b.negative && !b.is_zero();
  if (a_neg != b_neg) return a_neg ? -1 : 1;
  if (a.nanos == b.nanos) return 0;
  const bool below = a.nanos < b.nanos;
  return (below != a_neg) ? -1 : 1;
}

}  // namespace kubefn::controller
