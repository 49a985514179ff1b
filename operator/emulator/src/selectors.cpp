#include "selectors.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <tuple>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> split_terms(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
  return out;
}

std::string value_at(const nlohmann::json& object, const std::string& dotted) {
  const nlohmann::json* cur = &object;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const auto dot = dotted.find('.', start);
    const auto part =
        dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return "";
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

}  // namespace

// The label selector grammar of k8s.io/apimachinery/pkg/labels, token by token.
namespace {

enum class Token {
  kError,
  kEnd,
  kClosedPar,
  kComma,
  kDoesNotExist,
  kDoubleEquals,
  kEquals,
  kGreater,
  kIdentifier,
  kIn,
  kLess,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Scanned {
  Token token;
  std::string literal;
};

std::optional<Token> keyword(const std::string& s) {
  static const std::map<std::string, Token> kTokens = {
      {")", Token::kClosedPar},     {",", Token::kComma},   {"!", Token::kDoesNotExist},
      {"==", Token::kDoubleEquals}, {"=", Token::kEquals},  {">", Token::kGreater},
      {"in", Token::kIn},           {"<", Token::kLess},    {"!=", Token::kNotEquals},
      {"notin", Token::kNotIn},     {"(", Token::kOpenPar},
  };
  const auto it = kTokens.find(s);
  if (it == kTokens.end()) return std::nullopt;
  return it->second;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_special(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

std::vector<Scanned> lex(const std::string& text) {
  std::vector<Scanned> out;
  std::size_t pos = 0;
  while (true) {
    while (pos < text.size() && is_blank(text[pos]))
      ++pos;
    if (pos >= text.size() || text[pos] == '\0') {
      out.push_back({Token::kEnd, ""});
      return out;
    }
    if (is_special(text[pos])) {
      // The longest run of special characters that is still an operator.
      std::string buffer;
      std::optional<Scanned> last;
      while (pos < text.size() && is_special(text[pos])) {
        buffer += text[pos];
        if (auto t = keyword(buffer)) {
          last = Scanned{*t, buffer};
          ++pos;
        } else if (last) {
          break;
        } else {
          ++pos;
        }
      }
      if (!last) {
        out.push_back({Token::kError, "error expected: keyword found '" + buffer + "'"});
      } else {
        out.push_back(*last);
      }
      continue;
    }
    std::string buffer;
    while (pos < text.size() && text[pos] != '\0' && !is_special(text[pos]) && !is_blank(text[pos]))
      buffer += text[pos++];
    auto t = keyword(buffer);
    out.push_back({t ? *t : Token::kIdentifier, buffer});
  }
}

const std::string kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const std::string kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

std::string regex_error(const std::string& msg, const std::string& fmt,
                        const std::vector<std::string>& examples) {
  std::string out = msg + " (e.g. ";
  for (std::size_t i = 0; i < examples.size(); ++i)
    out += (i > 0 ? " or " : "") + ("'" + examples[i] + "', ");
  return out + "regex used for validation is '" + fmt + "')";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i)
    out += (i > 0 ? sep : "") + parts[i];
  return out;
}

// validation.IsQualifiedName.
std::vector<std::string> qualified_name_problems(const std::string& value) {
  static const std::regex kName("^" + kQualifiedNameFmt + "$");
  static const std::regex kSubdomain("^" + kDns1123SubdomainFmt + "$");
  const std::string name_error = regex_error(
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
      "end with an alphanumeric character",
      kQualifiedNameFmt, {"MyName", "my.name", "123-abc"});
  std::vector<std::string> errs;
  const auto slash = value.find('/');
  std::string name = value;
  if (slash != std::string::npos) {
    if (value.find('/', slash + 1) != std::string::npos) {
      return {"a qualified name " + name_error +
              " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
    }
    const std::string prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > 253) errs.push_back("prefix part must be no more than 253 characters");
      if (!std::regex_match(prefix, kSubdomain)) {
        errs.push_back("prefix part " +
                       regex_error("a lowercase RFC 1123 subdomain must consist of lower case "
                                   "alphanumeric characters, '-' or '.', and must start and end "
                                   "with an alphanumeric character",
                                   kDns1123SubdomainFmt, {"example.com"}));
      }
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!std::regex_match(name, kName)) errs.push_back("name part " + name_error);
  return errs;
}

// validation.IsValidLabelValue.
std::vector<std::string> label_value_problems(const std::string& value) {
  static const std::regex kValue("^(" + kQualifiedNameFmt + ")?$");
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!std::regex_match(value, kValue)) {
    errs.push_back(regex_error(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        "(" + kQualifiedNameFmt + ")?", {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

bool parses_as_int64(const std::string& s) {
  if (s.empty()) return false;
  std::size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (i == s.size()) return false;
  for (std::size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return false;
  }
  try {
    (void)std::stoll(s);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  using Op = LabelSelector::Op;
  const auto items = lex(text);
  std::size_t pos = 0;
  // In a value position, "in" and "notin" are plain identifiers.
  const auto as_value = [](Token t) {
    return t == Token::kIn || t == Token::kNotIn ? Token::kIdentifier : t;
  };
  const auto peek = [&](bool value = true) {
    const auto& s = items[std::min(pos, items.size() - 1)];
    return std::make_pair(value ? as_value(s.token) : s.token, s.literal);
  };
  const auto take = [&](bool value = true) {
    auto r = peek(value);
    if (pos < items.size() - 1) ++pos;
    return r;
  };
  const auto failed = [](const std::string& why) {
    return bad_request("unable to parse requirement: " + why);
  };

  LabelSelector sel;
  while (true) {
    auto [tok, lit] = peek();
    if (tok == Token::kEnd) break;
    if (tok != Token::kIdentifier && tok != Token::kDoesNotExist) {
      return bad_request("found '" + lit + "', expected: !, identifier, or 'end of string'");
    }
    // The key, and the operator when it is implied (k, !k).
    Requirement r;
    std::optional<Op> op;
    auto [t, key] = take();
    if (t == Token::kDoesNotExist) {
      op = Op::kNotExists;
      std::tie(t, key) = take();
    }
    if (t != Token::kIdentifier) return failed("found '" + key + "', expected: identifier");
    if (auto problems = qualified_name_problems(key); !problems.empty()) {
      return failed("<nil>: Invalid value: " + go_quote(key) + ": " + join(problems, "; "));
    }
    r.key = key;
    if (const auto next = peek().first; next == Token::kEnd || next == Token::kComma) {
      if (!op) op = Op::kExists;
    }
    std::vector<std::string> values;
    if (op) {
      r.op = *op;
    } else {
      auto [ot, olit] = take(false);
      switch (ot) {
        case Token::kIn:
          r.op = Op::kIn;
          break;
        case Token::kNotIn:
          r.op = Op::kNotIn;
          break;
        case Token::kEquals:
        case Token::kDoubleEquals:
          r.op = Op::kEquals;
          break;
        case Token::kNotEquals:
          r.op = Op::kNotEquals;
          break;
        case Token::kGreater:
          r.op = Op::kGreater;
          break;
        case Token::kLess:
          r.op = Op::kLess;
          break;
        default:
          return failed("found '" + olit + "', expected: in, notin, =, ==, !=, gt, lt");
      }
      std::set<std::string> set;
      if (r.op == Op::kIn || r.op == Op::kNotIn) {
        auto [pt, plit] = take();
        if (pt != Token::kOpenPar) return failed("found '" + plit + "' expected: '('");
        auto [lt, llit] = peek();
        if (lt == Token::kClosedPar) {
          take();
          set.insert("");
        } else if (lt == Token::kIdentifier || lt == Token::kComma) {
          bool closed = false;
          while (!closed) {
            auto [it, ilit] = take();
            if (it == Token::kIdentifier) {
              set.insert(ilit);
              auto [nt, nlit] = peek();
              if (nt == Token::kComma) continue;
              if (nt == Token::kClosedPar) break;
              return failed("found '" + nlit + "', expected: ',' or ')'");
            }
            if (it == Token::kComma) {
              if (set.empty()) set.insert("");
              auto nt = peek().first;
              if (nt == Token::kClosedPar) {
                set.insert("");
                closed = true;
              } else if (nt == Token::kComma) {
                take();
                set.insert("");
              }
              continue;
            }
            return failed("found '" + ilit + "', expected: ',', or identifier");
          }
          if (take().first != Token::kClosedPar) {
            return failed("found '" + llit + "', expected: ')'");
          }
        } else {
          return failed("found '" + llit + "', expected: ',', ')' or identifier");
        }
      } else {
        auto nt = peek().first;
        if (nt == Token::kEnd || nt == Token::kComma) {
          set.insert("");
        } else {
          auto [vt, vlit] = take();
          if (vt != Token::kIdentifier) return failed("found '" + vlit + "', expected: identifier");
          set.insert(vlit);
        }
      }
      values.assign(set.begin(), set.end());
    }
    // labels.NewRequirement's checks, aggregated.
    std::vector<std::string> errs;
    if (r.op == Op::kGreater || r.op == Op::kLess) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!parses_as_int64(values[i])) {
          errs.push_back("values[" + std::to_string(i) +
                         "]: Invalid value: " + go_quote(values[i]) +
                         ": for 'Gt', 'Lt' operators, the value must be an integer");
        }
      }
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (auto problems = label_value_problems(values[i]); !problems.empty()) {
        errs.push_back("values[" + std::to_string(i) + "][" + r.key +
                       "]: Invalid value: " + go_quote(values[i]) + ": " + join(problems, "; "));
      }
    }
    if (!errs.empty()) {
      std::vector<std::string> unique;
      for (const auto& e : errs) {
        if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(e);
      }
      return failed(unique.size() == 1 ? unique[0] : "[" + join(unique, ", ") + "]");
    }
    r.values = std::move(values);
    sel.requirements_.push_back(std::move(r));
    auto [after, alit] = take();
    if (after == Token::kEnd) break;
    if (after != Token::kComma) {
      return bad_request("found '" + alit + "', expected: ',' or 'end of string'");
    }
    auto [nt, nlit] = peek();
    if (nt != Token::kIdentifier && nt != Token::kDoesNotExist) {
      return bad_request("found '" + nlit + "', expected: identifier after ','");
    }
  }
  return sel;
}

bool LabelSelector::matches(const nlohmann::json& labels) const {
  for (const auto& r : requirements_) {
    const bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    const std::string v = has ? labels[r.key].get<std::string>() : "";
    const bool in = std::find(r.values.begin(), r.values.end(), v) != r.values.end();
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!has || !in) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (has && in) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
      case Op::kGreater:
      case Op::kLess: {
        if (!has || !parses_as_int64(v) || r.values.size() != 1) return false;
        const long long have = std::stoll(v), want = std::stoll(r.values[0]);
        if (r.op == Op::kGreater ? !(have > want) : !(have < want)) return false;
        break;
      }
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(const std::string& text,
                                           const std::vector<std::string>& supported,
                                           UnknownLabel unknown) {
  FieldSelector sel;
  if (trim(text).empty()) return sel;
  for (const auto& term : split_terms(text)) {
    Requirement r;
    if (auto ne = term.find("!="); ne != std::string::npos) {
      r.field = trim(term.substr(0, ne));
      r.equals = false;
      r.value = trim(term.substr(ne + 2));
    } else if (auto eq = term.find('='); eq != std::string::npos) {
      r.field = trim(term.substr(0, eq));
      r.equals = true;
      const auto rest = term.substr(eq + 1);
      r.value = trim(!rest.empty() && rest[0] == '=' ? rest.substr(1) : rest);
    } else {
      std::string message = "invalid selector: '";
      message.append(text).append("'; can't understand '").append(term).append("'");
      return bad_request(message);
    }
    const bool known = r.field == "metadata.name" || r.field == "metadata.namespace" ||
                       std::find(supported.begin(), supported.end(), r.field) != supported.end();
    if (!known) {
      switch (unknown) {
        case UnknownLabel::kNotSupported:
          return bad_request("field label not supported: " + r.field);
        case UnknownLabel::kDefault:
          return bad_request(go_quote(r.field) +
                             " is not a known field selector: only \"metadata.name\", "
                             "\"metadata.namespace\"");
        case UnknownLabel::kJob:
          return bad_request("field label " + go_quote(r.field) + " not supported for Job");
      }
    }
    sel.requirements_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const nlohmann::json& object) const {
  for (const auto& r : requirements_) {
    // core/v1 Event exposes source.component as "source".
    const std::string path = r.field == "source" ? "source.component" : r.field;
    const bool eq = value_at(object, path) == r.value;
    if (eq != r.equals) return false;
  }
  return true;
}

std::string label_selector_string(const nlohmann::json& selector) {
  if (!selector.is_object()) return selector.is_string() ? selector.get<std::string>() : "";
  std::vector<std::string> terms;
  const bool structured = selector.contains("matchLabels") || selector.contains("matchExpressions");
  const auto& labels =
      structured ? selector.value("matchLabels", nlohmann::json::object()) : selector;
  for (auto& [k, v] : labels.items()) {
    if (v.is_string()) terms.push_back(k + "=" + v.get<std::string>());
  }
  for (const auto& e : selector.value("matchExpressions", nlohmann::json::array())) {
    const std::string key = e.value("key", "");
    const std::string op = e.value("operator", "");
    std::string vals;
    for (const auto& v : e.value("values", nlohmann::json::array())) {
      if (!vals.empty()) vals += ",";
      vals += v.get<std::string>();
    }
    if (op == "In" || op == "NotIn") {
      std::string term = key;
      term.append(op == "In" ? " in (" : " notin (").append(vals).append(")");
      terms.push_back(term);
    }
    if (op == "Exists") terms.push_back(key);
    if (op == "DoesNotExist") terms.push_back("!" + key);
  }
  std::string out;
  for (const auto& t : terms)
    out += (out.empty() ? "" : ",") + t;
  return out;
}

}  // namespace kubefn::emulator
