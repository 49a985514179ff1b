#include "openapi_validator.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "field_errors.hpp"
#include "go_format.hpp"
#include "string_formats.hpp"

namespace kubefn::emulator {
namespace {

using nlohmann::json;

// kube-openapi's error codes, as far as apiextensions tells them apart.
enum class Code {
  kInvalidType,
  kRequired,
  kTooLong,
  kEnum,
  kMaxItems,
  kTooManyProperties,
  kOtherValidation,  // every other *errors.Validation: reported as field.Invalid
  kComposite,        // plain errors (anyOf, oneOf, allOf, not): field.Invalid at the root
};

struct OaError {
  OaError(Code c, std::string n, std::string m, json v = nullptr, int64_t limit = -1)
      : code(c), name(std::move(n)), message(std::move(m)), value(std::move(v)), valid(limit) {}

  Code code;
  std::string name;  // the kube-openapi path of the value ("spec.timeout")
  std::string message;
  json value;                // null: no value
  int64_t valid;             // the bound of TooLong, MaxItems, TooManyProperties
  std::vector<json> values;  // the enum values of EnumFail
};

// validate.Result: errors deduplicated by message, and the match count anyOf and oneOf use to
// pick the alternative whose errors they report.
struct OaResult {
  std::vector<OaError> errors;
  int match = 0;

  bool valid() const { return errors.empty(); }
  void add(OaError e) {
    for (const auto& x : errors) {
      if (x.message == e.message) return;
    }
    errors.push_back(std::move(e));
  }
  void merge(OaResult&& other) {
    for (auto& e : other.errors)
      add(std::move(e));
    match += other.match;
  }
};

OaResult single(OaError e) {
  OaResult r;
  r.errors.push_back(std::move(e));
  return r;
}

// %v of a decoded value (messages only compared for deduplication, but kept faithful).
std::string go_v(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "<nil>";
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < v.size(); ++i)
        out += (i > 0 ? " " : "") + go_v(v[i]);
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, x] : v.items()) {
        out += (first ? "" : " ") + k + ":" + go_v(x);
        first = false;
      }
      return out + "]";
    }
    default:
      return go_field_value(v);
  }
}

OaError invalid_type(const std::string& path, const std::string& type_name,
                     const std::string& value) {
  return {Code::kInvalidType, path,
          path + " in body must be of type " + type_name + ": " + go_quote(value), value};
}

bool is_float64_a_json_integer(double f) {
  constexpr double kMax = 9007199254740991.0;  // 1<<53 - 1
  if (std::isnan(f) || std::isinf(f) || f < -kMax || f > kMax) return false;
  if (f == std::trunc(f)) return true;
  // Negative fractions convert to uint64 far from f in Go: never "close to an integer".
  if (f < 0) return false;
  const double g = std::trunc(f);
  const double diff = f - g;
  if (g == 0 || diff < std::numeric_limits<double>::denorm_min()) {
    return diff < 1e-9 * std::numeric_limits<double>::denorm_min();
  }
  return diff / std::min(f + g, DBL_MAX) < 1e-9;
}

int64_t to_int64(double f) {
  if (!(f > -9.2e18)) return std::numeric_limits<int64_t>::min();
  if (!(f < 9.2e18)) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(f);
}

std::string rune_string(int64_t i) {
  char32_t r = (i < 0 || i > 0x10FFFF || (i >= 0xD800 && i <= 0xDFFF)) ? char32_t{0xFFFD}
                                                                       : static_cast<char32_t>(i);
  std::string out;
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
  return out;
}

// basicCommonValidator: the value converted to the enum value's Go type, then DeepEqual.
bool enum_matches(const json& data, const json& ev) {
  if (ev.is_null() || data.is_null()) return false;
  const bool data_int = data.is_number() && is_go_int(data);
  const bool data_float = data.is_number() && !data_int;
  if (ev.is_string()) {
    if (data.is_string()) return data == ev;
    return data_int && rune_string(go_int(data)) == ev.get<std::string>();
  }
  if (ev.is_number()) {
    if (!data.is_number()) return false;
    if (is_go_int(ev)) {
      return go_int(ev) == (data_int ? go_int(data) : to_int64(go_float64(data)));
    }
    return go_float64(ev) == go_float64(data);
  }
  if (ev.is_boolean()) return data.is_boolean() && data == ev;
  (void)data_float;
  return data.type() == ev.type() && go_deep_equal(data, ev);
}

const json* correlated_field(const json* old, const std::string& key) {
  if (old == nullptr || !old->is_object()) return nullptr;
  const auto it = old->find(key);
  return it == old->end() ? nullptr : &*it;
}

// The old element a list-type map element correlates with: the first with the same keys.
const json* correlated_item(const SchemaNode& s, const json& item, const json* old) {
  if (old == nullptr || !old->is_array() || s.list_type != "map" || s.list_map_keys.empty() ||
      !item.is_object())
    return nullptr;
  const auto key_of = [&](const json& x, std::vector<const json*>& out) {
    for (const auto& k : s.list_map_keys) {
      const auto it = x.find(k);
      if (it == x.end() || !(it->is_primitive() && !it->is_null())) return false;
      out.push_back(&*it);
    }
    return true;
  };
  std::vector<const json*> want;
  if (!key_of(item, want)) return nullptr;
  for (const auto& candidate : *old) {
    if (!candidate.is_object()) continue;
    std::vector<const json*> have;
    if (!key_of(candidate, have)) continue;
    bool same = true;
    for (std::size_t i = 0; i < want.size() && same; ++i)
      same = go_deep_equal(*want[i], *have[i]);
    if (same) return &candidate;
  }
  return nullptr;
}

class Validator {
 public:
  // A value a parent hands down (property, additional property, item): with ratcheting, its
  // errors are dropped when it equals its correlated old value.
  OaResult node(const SchemaNode& s, const json& data, const std::string& path, const json* old) {
    OaResult r = schema(s, data, path, old);
    if (!r.valid() && old != nullptr && go_deep_equal(data, *old)) r.errors.clear();
    return r;
  }

  // SchemaValidator.Validate.
  OaResult schema(const SchemaNode& s, const json& data, const std::string& path, const json* old) {
    OaResult result;
    if (data.is_null()) {
      result.merge(type_check(s, data, path));
      result.merge(enum_check(s, data, path));
      return result;
    }
    const auto run = [&result](OaResult r) {
      result.merge(std::move(r));
      ++result.match;
    };
    if (!s.types.empty() || !s.format.empty()) run(type_check(s, data, path));
    run(composition_check(s, data, path, old));
    if (data.is_string()) {
      run(string_check(s, data.get_ref<const std::string&>(), path));
      if (!s.format.empty()) run(format_check(s, data.get_ref<const std::string&>(), path));
    }
    if (data.is_number()) run(number_check(s, data, path));
    if (data.is_array()) run(slice_check(s, data, path, old));
    run(enum_check(s, data, path));
    if (data.is_object()) run(object_check(s, data, path, old));
    ++result.match;
    return result;
  }

 private:
  static bool has_type(const SchemaNode& s, const std::string& t) {
    return std::find(s.types.begin(), s.types.end(), t) != s.types.end();
  }

  static std::string joined_types(const SchemaNode& s) {
    std::string out;
    for (std::size_t i = 0; i < s.types.size(); ++i)
      out += (i > 0 ? "," : "") + s.types[i];
    return out;
  }

  OaResult type_check(const SchemaNode& s, const json& data, const std::string& path) {
    OaResult ok;
    ok.match = 1;
    if (data.is_null()) {
      if (!s.types.empty() && !has_type(s, "null") && !s.nullable) {
        return single(invalid_type(path, joined_types(s), "null"));
      }
      return ok;
    }
    std::string sch_type;
    std::string format;
    if (data.is_boolean()) {
      sch_type = "boolean";
    } else if (data.is_string()) {
      sch_type = "string";
    } else if (data.is_number()) {
      const bool i = is_go_int(data);
      sch_type = i ? "integer" : "number";
      format = i ? "int64" : "double";
    } else if (data.is_array()) {
      sch_type = "array";
    } else {
      sch_type = "object";
    }
    const bool float_int = sch_type == "number" && is_float64_a_json_integer(go_float64(data)) &&
                           has_type(s, "integer");
    const bool int_float = sch_type == "integer" && has_type(s, "number");
    const bool string_or_slice = data.is_string() || data.is_array();
    if (!string_or_slice && !s.format.empty() &&
        !(has_type(s, sch_type) || format == s.format || float_int || int_float)) {
      return single(invalid_type(path, s.format, format));
    }
    if (!(has_type(s, "number") || has_type(s, "integer")) && !s.format.empty() && string_or_slice)
      return ok;
    if (!(has_type(s, sch_type) || float_int || int_float)) {
      return single(invalid_type(path, joined_types(s), sch_type));
    }
    return ok;
  }

  OaResult composition_check(const SchemaNode& s, const json& data, const std::string& path,
                             const json* old) {
    OaResult main;
    if (!s.any_of.empty()) {
      std::optional<OaResult> best;
      std::optional<OaResult> first_success;
      bool succeeded = false;
      for (const auto& sub : s.any_of) {
        OaResult r = schema(sub, data, path, old);
        if (r.valid()) {
          best.reset();
          succeeded = true;
          if (!first_success) first_success = std::move(r);
          break;
        }
        if (!best || r.match > best->match) best = std::move(r);
      }
      if (!succeeded) {
        main.add(
            {Code::kComposite, "", go_quote(path) + " must validate at least one schema (anyOf)"});
      }
      if (best) {
        main.merge(std::move(*best));
      } else if (first_success) {
        main.merge(std::move(*first_success));
      }
    }
    if (!s.one_of.empty()) {
      std::optional<OaResult> best;
      std::optional<OaResult> first_success;
      int validated = 0;
      for (const auto& sub : s.one_of) {
        OaResult r = schema(sub, data, path, old);
        if (r.valid()) {
          ++validated;
          best.reset();
          if (!first_success) first_success = std::move(r);
          continue;
        }
        if (validated == 0 && (!best || r.match > best->match)) best = std::move(r);
      }
      if (validated != 1) {
        const std::string more = validated == 0
                                     ? "Found none valid"
                                     : "Found " + std::to_string(validated) + " valid alternatives";
        main.add({Code::kComposite, "",
                  go_quote(path) + " must validate one and only one schema (oneOf). " + more});
        if (best) main.merge(std::move(*best));
      } else if (first_success) {
        main.merge(std::move(*first_success));
      }
    }
    if (!s.all_of.empty()) {
      std::size_t validated = 0;
      for (const auto& sub : s.all_of) {
        OaResult r = schema(sub, data, path, old);
        if (r.valid()) ++validated;
        main.merge(std::move(r));
      }
      if (validated != s.all_of.size()) {
        main.add({Code::kComposite, "",
                  go_quote(path) + " must validate all the schemas (allOf)" +
                      (validated == 0 ? ". None validated" : "")});
      }
    }
    if (s.not_schema && schema(*s.not_schema, data, path, old).valid()) {
      main.add({Code::kComposite, "", go_quote(path) + " must not validate the schema (not)"});
    }
    ++main.match;
    return main;
  }

  OaResult string_check(const SchemaNode& s, const std::string& data, const std::string& path) {
    if (s.max_length || s.min_length) {
      const auto n = static_cast<int64_t>(rune_count(data));
      if (s.max_length && n > *s.max_length) {
        return single(
            {Code::kTooLong, path,
             path + " in body should be at most " + std::to_string(*s.max_length) + " chars long",
             data, *s.max_length});
      }
      if (s.min_length && n < *s.min_length) {
        return single(
            {Code::kOtherValidation, path,
             path + " in body should be at least " + std::to_string(*s.min_length) + " chars long",
             data});
      }
    }
    if (s.regex && !std::regex_search(utf8_to_wide(data), *s.regex)) {
      return single(
          {Code::kOtherValidation, path, path + " in body should match '" + s.pattern + "'", data});
    }
    return {};
  }

  OaResult format_check(const SchemaNode& s, const std::string& data, const std::string& path) {
    if (string_format_valid(s.format, data)) return {};
    OaResult r;
    r.errors.push_back(invalid_type(path, s.format, data));
    return r;
  }

  static OaError bound_error(const std::string& path, bool maximum, bool exclusive,
                             const std::string& bound, json value) {
    std::string relation = maximum ? "less than " : "greater than ";
    if (!exclusive) relation += "or equal to ";
    return {Code::kOtherValidation, path, path + " in body should be " + relation + bound,
            std::move(value)};
  }

  OaResult number_check(const SchemaNode& s, const json& data, const std::string& path) {
    OaResult res;
    OaResult multiple;
    OaResult minimum;
    OaResult maximum;
    if (is_go_int(data)) {
      const int64_t v = go_int(data);
      if (s.multiple_of) {
        const int64_t f = to_int64(*s.multiple_of);
        if (f <= 0) {
          multiple.add(
              {Code::kOtherValidation, path,
               "factor MultipleOf declared for " + path + " must be positive: " + std::to_string(f),
               f});
        } else if ((v / f) * f != v) {
          multiple.add({Code::kOtherValidation, path,
                        path + " in body should be a multiple of " + std::to_string(f), v});
        }
      }
      if (s.minimum) {
        const int64_t m = to_int64(*s.minimum);
        if ((!s.exclusive_minimum && v < m) || (s.exclusive_minimum && v <= m))
          minimum.add(bound_error(path, false, s.exclusive_minimum, std::to_string(m), v));
      }
      if (s.maximum) {
        const int64_t m = to_int64(*s.maximum);
        if ((!s.exclusive_maximum && v > m) || (s.exclusive_maximum && v >= m))
          maximum.add(bound_error(path, true, s.exclusive_maximum, std::to_string(m), v));
      }
    } else {
      const double v = go_float64(data);
      if (s.multiple_of) {
        const double f = *s.multiple_of;
        if (f <= 0) {
          multiple.add(
              {Code::kOtherValidation, path,
               "factor MultipleOf declared for " + path + " must be positive: " + go_float(f), f});
        } else if (!is_float64_a_json_integer(f < 1 ? 1 / f * v : v / f)) {
          multiple.add({Code::kOtherValidation, path,
                        path + " in body should be a multiple of " + go_float(f), v});
        }
      }
      if (s.minimum) {
        const double m = *s.minimum;
        if ((!s.exclusive_minimum && v < m) || (s.exclusive_minimum && v <= m))
          minimum.add(bound_error(path, false, s.exclusive_minimum, go_float(m), v));
      }
      if (s.maximum) {
        const double m = *s.maximum;
        if ((!s.exclusive_maximum && v > m) || (s.exclusive_maximum && v >= m))
          maximum.add(bound_error(path, true, s.exclusive_maximum, go_float(m), v));
      }
    }
    res.merge(std::move(multiple));
    res.merge(std::move(minimum));
    res.merge(std::move(maximum));
    ++res.match;
    return res;
  }

  OaResult slice_check(const SchemaNode& s, const json& data, const std::string& path,
                       const json* old) {
    OaResult result;
    const auto size = static_cast<int64_t>(data.size());
    if (s.items) {
      for (std::size_t i = 0; i < data.size(); ++i) {
        result.merge(node(*s.items, data[i], path + "[" + std::to_string(i) + "]",
                          correlated_item(s, data[i], old)));
      }
    }
    if (s.min_items && size < *s.min_items) {
      result.add({Code::kOtherValidation, path,
                  path + " in body should have at least " + std::to_string(*s.min_items) + " items",
                  size});
    }
    if (s.max_items && size > *s.max_items) {
      result.add({Code::kMaxItems, path,
                  path + " in body should have at most " + std::to_string(*s.max_items) + " items",
                  size, *s.max_items});
    }
    if (s.unique_items) {
      bool duplicate = false;
      for (std::size_t i = 0; i < data.size() && !duplicate; ++i) {
        for (std::size_t j = 0; j < i && !duplicate; ++j)
          duplicate = go_deep_equal(data[i], data[j]);
      }
      if (duplicate) {
        result.add({Code::kOtherValidation, path, path + " in body shouldn't contain duplicates"});
      }
    }
    ++result.match;
    return result;
  }

  OaResult enum_check(const SchemaNode& s, const json& data, const std::string& path) {
    if (s.enum_values.empty()) return {};
    for (const auto& ev : s.enum_values) {
      if (enum_matches(data, ev)) return {};
    }
    std::string listed = "[";
    for (std::size_t i = 0; i < s.enum_values.size(); ++i)
      listed += (i > 0 ? " " : "") + go_v(s.enum_values[i]);
    OaError e{Code::kEnum, path, path + " in body should be one of " + listed + "]", data};
    e.values = s.enum_values;
    return single(std::move(e));
  }

  OaResult object_check(const SchemaNode& s, const json& data, const std::string& path,
                        const json* old) {
    OaResult res;
    const auto n = static_cast<int64_t>(data.size());
    if (s.min_properties && n < *s.min_properties) {
      res.add({Code::kOtherValidation, path,
               path + " in body should have at least " + std::to_string(*s.min_properties) +
                   " properties",
               n});
    }
    if (s.max_properties && n > *s.max_properties) {
      res.add({Code::kTooManyProperties, path,
               path + " in body should have at most " + std::to_string(*s.max_properties) +
                   " properties",
               n, *s.max_properties});
    }
    if (s.has_additional && !s.additional_allows) {
      for (const auto& [k, v] : data.items()) {
        if (s.property(k) == nullptr) {
          res.add({Code::kOtherValidation, path,
                   path + "." + k + " in body is a forbidden property", k});
        }
      }
    } else if (s.additional) {
      for (const auto& [k, v] : data.items()) {
        if (s.property(k) == nullptr)
          res.merge(node(*s.additional, v, path + "." + k, correlated_field(old, k)));
      }
    }
    for (const auto& [name, prop] : s.properties) {
      const auto it = data.find(name);
      if (it == data.end()) continue;
      const std::string child = path.empty() ? name : path + "." + name;
      res.merge(node(*prop, *it, child, correlated_field(old, name)));
    }
    for (const auto& k : s.required) {
      if (!data.contains(k)) {
        res.add({Code::kRequired, path + "." + k, path + "." + k + " in body is required"});
      }
    }
    return res;
  }
};

std::string error_path(const std::string& prefix, const std::string& name) {
  if (name.empty() || name == ".") return prefix.empty() ? "<nil>" : prefix;
  const std::string trimmed = name[0] == '.' ? name.substr(1) : name;
  return prefix.empty() ? trimmed : prefix + "." + trimmed;
}

FieldError to_field_error(const OaError& e, const std::string& prefix) {
  const std::string path = error_path(prefix, e.name);
  const json value = e.value.is_null() ? json("") : e.value;
  switch (e.code) {
    case Code::kRequired:
      return field_required(path);
    case Code::kEnum: {
      std::vector<std::string> values;
      for (const auto& v : e.values)
        values.push_back(v.is_string() ? v.get<std::string>() : go_json(v));
      return field_not_supported(path, e.value, values);
    }
    case Code::kTooLong:
      return field_too_long(path, e.valid);
    case Code::kMaxItems:
    case Code::kTooManyProperties:
      return field_too_many(path, e.value.is_number() ? go_int(e.value) : -1, e.valid);
    case Code::kInvalidType:
      return field_type_invalid(path, value, e.message);
    case Code::kComposite:
      return field_invalid(prefix.empty() ? "<nil>" : prefix, "", e.message);
    case Code::kOtherValidation:
      break;
  }
  return field_invalid(path, value, e.message);
}

}  // namespace

std::vector<FieldError> openapi_validate(const SchemaNode& schema, const json& value,
                                         const json* old, const std::string& field_prefix) {
  Validator v;
  const OaResult r =
      old != nullptr ? v.node(schema, value, "", old) : v.schema(schema, value, "", nullptr);
  std::vector<FieldError> out;
  out.reserve(r.errors.size());
  for (const auto& e : r.errors)
    out.push_back(to_field_error(e, field_prefix));
  return out;
}

}  // namespace kubefn::emulator
