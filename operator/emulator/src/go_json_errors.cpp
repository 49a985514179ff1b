#include "go_json_errors.hpp"

#include <cstdio>
#include <vector>

namespace kubefn::emulator {
namespace {

// encoding/json's quoteChar: the byte as a Go character literal.
std::string quote_char(unsigned char c) {
  if (c == '\'') return "'\\''";
  if (c == '"') return "'\"'";
  char buf[16];
  std::string inner;
  switch (c) {
    case '\a':
      inner = "\\a";
      break;
    case '\b':
      inner = "\\b";
      break;
    case '\f':
      inner = "\\f";
      break;
    case '\n':
      inner = "\\n";
      break;
    case '\r':
      inner = "\\r";
      break;
    case '\t':
      inner = "\\t";
      break;
    case '\v':
      inner = "\\v";
      break;
    case '\\':
      inner = "\\\\";
      break;
    default:
      if (c >= 0x20 && c < 0x7f) {
        inner = std::string(1, static_cast<char>(c));
      } else if (c < 0x80) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        inner = buf;
      } else if (c < 0xa1 || c == 0xad) {
        // string(byte) is the rune U+0080..U+00FF; these are not printable.
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        inner = buf;
      } else {
        inner += static_cast<char>(0xc0 | (c >> 6));
        inner += static_cast<char>(0x80 | (c & 0x3f));
      }
  }
  return "'" + inner + "'";
}

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// The states of encoding/json's scanner, one byte at a time.
enum class State {
  kBeginValue,
  kBeginValueOrEmpty,
  kBeginStringOrEmpty,
  kBeginString,
  kEndValue,
  kEndTop,
  kInString,
  kInStringEsc,
  kInStringEscU,
  kInStringEscU1,
  kInStringEscU12,
  kInStringEscU123,
  kNeg,
  k1,
  k0,
  kDot,
  kDot0,
  kE,
  kESign,
  kE0,
  kT,
  kTr,
  kTru,
  kF,
  kFa,
  kFal,
  kFals,
  kN,
  kNu,
  kNul,
};

enum class Parse { kObjectKey, kObjectValue, kArrayValue };

class Scanner {
 public:
  // False once an error is set.
  bool step(unsigned char c) {
    switch (state_) {
      case State::kBeginValueOrEmpty:
        if (is_space(c)) return true;
        if (c == ']') return end_value(c);
        return begin_value(c);
      case State::kBeginValue:
        return begin_value(c);
      case State::kBeginStringOrEmpty:
        if (is_space(c)) return true;
        if (c == '}') {
          stack_.back() = Parse::kObjectValue;
          return end_value(c);
        }
        return begin_string(c);
      case State::kBeginString:
        return begin_string(c);
      case State::kEndValue:
        return end_value(c);
      case State::kEndTop:
        if (!is_space(c)) return fail(c, "after top-level value");
        return true;
      case State::kInString:
        if (c == '"') {
          state_ = State::kEndValue;
          return true;
        }
        if (c == '\\') {
          state_ = State::kInStringEsc;
          return true;
        }
        if (c < 0x20) return fail(c, "in string literal");
        return true;
      case State::kInStringEsc:
        switch (c) {
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
          case '\\':
          case '/':
          case '"':
            state_ = State::kInString;
            return true;
          case 'u':
            state_ = State::kInStringEscU;
            return true;
          default:
            return fail(c, "in string escape code");
        }
      case State::kInStringEscU:
      case State::kInStringEscU1:
      case State::kInStringEscU12:
      case State::kInStringEscU123:
        if (!is_hex(c)) return fail(c, "in \\u hexadecimal character escape");
        state_ = state_ == State::kInStringEscU     ? State::kInStringEscU1
                 : state_ == State::kInStringEscU1  ? State::kInStringEscU12
                 : state_ == State::kInStringEscU12 ? State::kInStringEscU123
                                                    : State::kInString;
        return true;
      case State::kNeg:
        if (c == '0') {
          state_ = State::k0;
          return true;
        }
        if (c >= '1' && c <= '9') {
          state_ = State::k1;
          return true;
        }
        return fail(c, "in numeric literal");
      case State::k1:
        if (c >= '0' && c <= '9') return true;
        return after_zero(c);
      case State::k0:
        return after_zero(c);
      case State::kDot:
        if (c >= '0' && c <= '9') {
          state_ = State::kDot0;
          return true;
        }
        return fail(c, "after decimal point in numeric literal");
      case State::kDot0:
        if (c >= '0' && c <= '9') return true;
        if (c == 'e' || c == 'E') {
          state_ = State::kE;
          return true;
        }
        return end_value(c);
      case State::kE:
        if (c == '+' || c == '-') {
          state_ = State::kESign;
          return true;
        }
        return e_sign(c);
      case State::kESign:
        return e_sign(c);
      case State::kE0:
        if (c >= '0' && c <= '9') return true;
        return end_value(c);
      case State::kT:
        return literal(c, 'r', State::kTr, "in literal true (expecting 'r')");
      case State::kTr:
        return literal(c, 'u', State::kTru, "in literal true (expecting 'u')");
      case State::kTru:
        return literal(c, 'e', State::kEndValue, "in literal true (expecting 'e')");
      case State::kF:
        return literal(c, 'a', State::kFa, "in literal false (expecting 'a')");
      case State::kFa:
        return literal(c, 'l', State::kFal, "in literal false (expecting 'l')");
      case State::kFal:
        return literal(c, 's', State::kFals, "in literal false (expecting 's')");
      case State::kFals:
        return literal(c, 'e', State::kEndValue, "in literal false (expecting 'e')");
      case State::kN:
        return literal(c, 'u', State::kNu, "in literal null (expecting 'u')");
      case State::kNu:
        return literal(c, 'l', State::kNul, "in literal null (expecting 'l')");
      case State::kNul:
        return literal(c, 'l', State::kEndValue, "in literal null (expecting 'l')");
    }
    return true;
  }

  // scanner.eof: a value still open is completed by a space if it can be.
  std::string finish() {
    if (!error_.empty()) return error_;
    if (state_ == State::kEndTop) return "";
    step(' ');
    if (!error_.empty()) return error_;
    if (state_ == State::kEndTop) return "";
    return "unexpected end of JSON input";
  }

  const std::string& error() const { return error_; }

 private:
  bool fail(unsigned char c, const char* context) {
    error_ = "invalid character " + quote_char(c) + " " + context;
    return false;
  }

  bool begin_value(unsigned char c) {
    if (is_space(c)) return true;
    switch (c) {
      case '{':
        stack_.push_back(Parse::kObjectKey);
        state_ = State::kBeginStringOrEmpty;
        return true;
      case '[':
        stack_.push_back(Parse::kArrayValue);
        state_ = State::kBeginValueOrEmpty;
        return true;
      case '"':
        state_ = State::kInString;
        return true;
      case '-':
        state_ = State::kNeg;
        return true;
      case '0':
        state_ = State::k0;
        return true;
      case 't':
        state_ = State::kT;
        return true;
      case 'f':
        state_ = State::kF;
        return true;
      case 'n':
        state_ = State::kN;
        return true;
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      state_ = State::k1;
      return true;
    }
    return fail(c, "looking for beginning of value");
  }

  bool begin_string(unsigned char c) {
    if (is_space(c)) return true;
    if (c == '"') {
      state_ = State::kInString;
      return true;
    }
    return fail(c, "looking for beginning of object key string");
  }

  bool end_value(unsigned char c) {
    if (stack_.empty()) {
      state_ = State::kEndTop;
      return step(c);
    }
    if (is_space(c)) {
      state_ = State::kEndValue;
      return true;
    }
    switch (stack_.back()) {
      case Parse::kObjectKey:
        if (c == ':') {
          stack_.back() = Parse::kObjectValue;
          state_ = State::kBeginValue;
          return true;
        }
        return fail(c, "after object key");
      case Parse::kObjectValue:
        if (c == ',') {
          stack_.back() = Parse::kObjectKey;
          state_ = State::kBeginString;
          return true;
        }
        if (c == '}') return pop();
        return fail(c, "after object key:value pair");
      case Parse::kArrayValue:
        if (c == ',') {
          state_ = State::kBeginValue;
          return true;
        }
        if (c == ']') return pop();
        return fail(c, "after array element");
    }
    return true;
  }

  bool pop() {
    stack_.pop_back();
    state_ = stack_.empty() ? State::kEndTop : State::kEndValue;
    return true;
  }

  bool after_zero(unsigned char c) {
    if (c == '.') {
      state_ = State::kDot;
      return true;
    }
    if (c == 'e' || c == 'E') {
      state_ = State::kE;
      return true;
    }
    return end_value(c);
  }

  bool e_sign(unsigned char c) {
    if (c >= '0' && c <= '9') {
      state_ = State::kE0;
      return true;
    }
    return fail(c, "in exponent of numeric literal");
  }

  bool literal(unsigned char c, char want, State next, const char* context) {
    if (c != static_cast<unsigned char>(want)) return fail(c, context);
    state_ = next;
    return true;
  }

  State state_ = State::kBeginValue;
  std::vector<Parse> stack_;
  std::string error_;
};

}  // namespace

std::string go_json_syntax_error(std::string_view text) {
  Scanner s;
  for (const char ch : text) {
    if (!s.step(static_cast<unsigned char>(ch))) return s.error();
  }
  return s.finish();
}

std::string go_json_value_kind(const nlohmann::json& value) {
  if (value.is_object()) return "object";
  if (value.is_array()) return "array";
  if (value.is_string()) return "string";
  if (value.is_number()) return "number";
  if (value.is_boolean()) return "bool";
  return "null";
}

std::string go_body_summary(std::string_view body, std::size_t max) {
  if (body.empty()) return "<empty>";
  const bool cut = body.size() > max;
  const std::string_view head = cut ? body.substr(0, max) : body;
  std::string out;
  if (body.front() == '{') {
    out = std::string(head);
  } else {
    static const char kHex[] = "0123456789abcdef";
    for (const char ch : head) {
      const auto c = static_cast<unsigned char>(ch);
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return cut ? out + " ..." : out;
}

}  // namespace kubefn::emulator
