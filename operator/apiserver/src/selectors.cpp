#include "selectors.hpp"

#include <algorithm>

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

Result<LabelSelector> LabelSelector::parse(const std::string& text) {
  LabelSelector sel;
  if (trim(text).empty()) return sel;
  for (const auto& term : split_terms(text)) {
    if (term.empty())
      return bad_request("unable to parse requirement: empty term in \"" + text + "\"");
    Requirement r;
    const auto paren = term.find('(');
    if (paren != std::string::npos) {
      const auto close = term.rfind(')');
      if (close == std::string::npos || close < paren)
        return bad_request("unable to parse requirement: " + term);
      const auto head = trim(term.substr(0, paren));
      const auto sp = head.rfind(' ');
      if (sp == std::string::npos) return bad_request("unable to parse requirement: " + term);
      r.key = trim(head.substr(0, sp));
      const auto op = trim(head.substr(sp + 1));
      if (op == "in") {
        r.op = Op::kIn;
      } else if (op == "notin") {
        r.op = Op::kNotIn;
      } else {
        return bad_request("unable to parse requirement: unknown operator " + op);
      }
      for (const auto& v : split_terms(term.substr(paren + 1, close - paren - 1))) {
        r.values.push_back(v);
      }
    } else if (auto ne = term.find("!="); ne != std::string::npos) {
      r.key = trim(term.substr(0, ne));
      r.op = Op::kNotEquals;
      r.values = {trim(term.substr(ne + 2))};
    } else if (auto eq = term.find('='); eq != std::string::npos) {
      r.key = trim(term.substr(0, eq));
      const auto rest = term.substr(eq + 1);
      r.op = Op::kEquals;
      r.values = {trim(!rest.empty() && rest[0] == '=' ? rest.substr(1) : rest)};
    } else if (term[0] == '!') {
      r.key = trim(term.substr(1));
      r.op = Op::kNotExists;
    } else {
      r.key = term;
      r.op = Op::kExists;
    }
    if (r.key.empty())
      return bad_request("unable to parse requirement: empty key in \"" + term + "\"");
    sel.requirements_.push_back(std::move(r));
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
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::parse(const std::string& text,
                                           const std::vector<std::string>& supported) {
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
    if (!known) return bad_request("field label not supported: " + r.field);
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
