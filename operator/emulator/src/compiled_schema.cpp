#include "compiled_schema.hpp"

#include <set>

#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// The formats apiextensions-apiserver keeps for a 1.34 server (its compatibility version is
// 1.33), named without dashes as go-openapi normalizes them. Any other format is stripped.
const std::set<std::string>& supported_formats() {
  static const std::set<std::string> kFormats = {
      "bsonobjectid", "uri",    "email",    "hostname",   "ipv4",     "ipv6",
      "cidr",         "mac",    "uuid",     "uuid3",      "uuid4",    "uuid5",
      "isbn",         "isbn10", "isbn13",   "creditcard", "ssn",      "hexcolor",
      "rgbcolor",     "byte",   "password", "date",       "duration", "datetime"};
  return kFormats;
}

std::string without_dashes(std::string s) {
  std::erase(s, '-');
  return s;
}

std::optional<double> number_at(const json& s, const char* key) {
  const auto it = s.find(key);
  if (it == s.end() || !it->is_number()) return std::nullopt;
  return go_float64(*it);
}

std::optional<int64_t> int_at(const json& s, const char* key) {
  const auto it = s.find(key);
  if (it == s.end() || !it->is_number()) return std::nullopt;
  return is_go_int(*it) ? go_int(*it) : static_cast<int64_t>(go_float64(*it));
}

bool bool_at(const json& s, const char* key) {
  const auto it = s.find(key);
  return it != s.end() && it->is_boolean() && it->get<bool>();
}

std::string string_at(const json& s, const char* key) {
  const auto it = s.find(key);
  return it != s.end() && it->is_string() ? it->get<std::string>() : "";
}

// Go's RE2 syntax mapped onto ECMAScript where they differ in ways CRD patterns use: a leading
// (?i) and the \A and \z anchors. Anything else ECMAScript rejects leaves the pattern unchecked.
std::shared_ptr<const std::wregex> compile_pattern(const std::string& pattern) {
  std::string p = pattern;
  auto flags = std::regex::ECMAScript;
#ifdef __GLIBCXX__
  // A non-recursive executor: long values cannot exhaust the stack.
  flags |= std::regex_constants::__polynomial;
#endif
  if (p.rfind("(?i)", 0) == 0) {
    flags |= std::regex::icase;
    p = p.substr(4);
  }
  std::string translated;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (!in_class && n == 'A') {
        translated += '^';
      } else if (!in_class && n == 'z') {
        translated += '$';
      } else {
        translated += c;
        translated += n;
      }
      ++i;
      continue;
    }
    if (c == '[') in_class = true;
    if (c == ']') in_class = false;
    translated += c;
  }
  try {
    return std::make_shared<const std::wregex>(utf8_to_wide(translated), flags);
  } catch (const std::regex_error&) {
    return nullptr;
  }
}

void compile_into(const json& s, SchemaNode& n);

std::unique_ptr<SchemaNode> compile_child(const json& s) {
  auto n = std::make_unique<SchemaNode>();
  if (s.is_object()) compile_into(s, *n);
  return n;
}

std::vector<SchemaNode> compile_list(const json& s, const char* key) {
  std::vector<SchemaNode> out;
  const auto it = s.find(key);
  if (it == s.end() || !it->is_array()) return out;
  out.resize(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    if ((*it)[i].is_object()) compile_into((*it)[i], out[i]);
  }
  return out;
}

void compile_into(const json& s, SchemaNode& n) {
  const auto type = string_at(s, "type");
  if (!type.empty()) n.types = {type};
  n.int_or_string = bool_at(s, "x-kubernetes-int-or-string");
  if (n.int_or_string) n.types = {"integer", "string"};
  n.nullable = bool_at(s, "nullable");
  const auto format = string_at(s, "format");
  if (!format.empty() && supported_formats().count(without_dashes(format)) != 0) n.format = format;
  n.maximum = number_at(s, "maximum");
  n.minimum = number_at(s, "minimum");
  n.exclusive_maximum = bool_at(s, "exclusiveMaximum");
  n.exclusive_minimum = bool_at(s, "exclusiveMinimum");
  n.multiple_of = number_at(s, "multipleOf");
  n.max_length = int_at(s, "maxLength");
  n.min_length = int_at(s, "minLength");
  n.max_items = int_at(s, "maxItems");
  n.min_items = int_at(s, "minItems");
  n.max_properties = int_at(s, "maxProperties");
  n.min_properties = int_at(s, "minProperties");
  n.unique_items = bool_at(s, "uniqueItems");
  n.pattern = string_at(s, "pattern");
  if (!n.pattern.empty()) n.regex = compile_pattern(n.pattern);
  if (const auto e = s.find("enum"); e != s.end() && e->is_array()) {
    n.enum_values.assign(e->begin(), e->end());
  }
  if (const auto r = s.find("required"); r != s.end() && r->is_array()) {
    for (const auto& k : *r) {
      if (k.is_string()) n.required.push_back(k.get<std::string>());
    }
  }
  if (const auto p = s.find("properties"); p != s.end() && p->is_object()) {
    for (const auto& [k, child] : p->items())
      n.properties.emplace(k, compile_child(child));
  }
  if (const auto a = s.find("additionalProperties"); a != s.end()) {
    if (a->is_boolean()) {
      n.has_additional = true;
      n.additional_allows = a->get<bool>();
    } else if (a->is_object()) {
      n.has_additional = true;
      n.additional = compile_child(*a);
    }
  }
  if (const auto i = s.find("items"); i != s.end() && i->is_object()) n.items = compile_child(*i);
  n.all_of = compile_list(s, "allOf");
  n.any_of = compile_list(s, "anyOf");
  n.one_of = compile_list(s, "oneOf");
  if (const auto x = s.find("not"); x != s.end() && x->is_object())
    n.not_schema = compile_child(*x);
  if (const auto d = s.find("default"); d != s.end() && !d->is_null()) n.default_value = *d;
  n.preserve_unknown_fields = bool_at(s, "x-kubernetes-preserve-unknown-fields");
  n.embedded_resource = bool_at(s, "x-kubernetes-embedded-resource");
  n.list_type = string_at(s, "x-kubernetes-list-type");
  if (const auto k = s.find("x-kubernetes-list-map-keys"); k != s.end() && k->is_array()) {
    for (const auto& key : *k) {
      if (key.is_string()) n.list_map_keys.push_back(key.get<std::string>());
    }
  }
}

}  // namespace

std::shared_ptr<const SchemaNode> compile_schema(const json& openapi_v3_schema) {
  if (!openapi_v3_schema.is_object()) return nullptr;
  auto root = std::make_shared<SchemaNode>();
  compile_into(openapi_v3_schema, *root);
  return root;
}

}  // namespace kubefn::emulator
