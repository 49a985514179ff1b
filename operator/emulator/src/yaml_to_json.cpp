#include "kubefn/emulator/yaml_to_json.hpp"

#include <locale.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <regex>
#include <sstream>

namespace kubefn::emulator {
namespace {

using nlohmann::json;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

// Thrown inside the conversion, caught at its entry points.
struct Failure {
  YamlError::Kind kind;
  std::string message;
};

[[noreturn]] void unsupported(std::string message) {
  throw Failure{YamlError::Kind::kUnsupported, std::move(message)};
}

// ---- Scalars -------------------------------------------------------------------------------

// What a scalar resolved to; the names are the YAML tags' short forms, used in messages.
enum class Kind { kNull, kBool, kInt, kFloat, kStr };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "!!null";
    case Kind::kBool:
      return "!!bool";
    case Kind::kInt:
      return "!!int";
    case Kind::kFloat:
      return "!!float";
    case Kind::kStr:
      return "!!str";
  }
  return "!!str";
}

struct Resolved {
  Kind kind = Kind::kStr;
  json value;  // an int beyond int64 is number_unsigned; floats may be NaN or infinite here
};

// The YAML 1.1 words the decoder reads as other types than strings.
const Resolved* from_words(std::string_view s) {
  static const std::vector<std::pair<std::string_view, Resolved>> kWords = [] {
    std::vector<std::pair<std::string_view, Resolved>> w;
    for (const char* t : {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
      w.push_back({t, {Kind::kBool, true}});
    for (const char* f :
         {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})
      w.push_back({f, {Kind::kBool, false}});
    for (const char* n : {"", "~", "null", "Null", "NULL"})
      w.push_back({n, {Kind::kNull, nullptr}});
    const double inf = std::numeric_limits<double>::infinity();
    for (const char* n : {".nan", ".NaN", ".NAN"})
      w.push_back({n, {Kind::kFloat, std::numeric_limits<double>::quiet_NaN()}});
    for (const char* i : {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
      w.push_back({i, {Kind::kFloat, inf}});
    for (const char* i : {"-.inf", "-.Inf", "-.INF"})
      w.push_back({i, {Kind::kFloat, -inf}});
    return w;
  }();
  for (const auto& [word, value] : kWords) {
    if (word == s) return &value;
  }
  return nullptr;
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

enum class NumberError { kNone, kSyntax, kRange };

// An unsigned integer with a 0x, 0o, 0b or 0 (octal) prefix or none (decimal), no sign.
std::uint64_t parse_unsigned(std::string_view s, NumberError* error) {
  *error = NumberError::kNone;
  if (s.empty()) {
    *error = NumberError::kSyntax;
    return 0;
  }
  int base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  std::uint64_t n = 0;
  bool overflow = false;
  for (char c : s) {
    const int d = digit_value(c);
    if (d >= base) {
      *error = NumberError::kSyntax;
      return 0;
    }
    const auto b = static_cast<std::uint64_t>(base);
    if (n > (std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(d)) / b) {
      overflow = true;
    } else {
      n = n * b + static_cast<std::uint64_t>(d);
    }
  }
  if (overflow) *error = NumberError::kRange;
  return n;
}

// A signed integer: an optional sign, then as parse_unsigned.
std::int64_t parse_signed(std::string_view s, NumberError* error) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  const std::uint64_t magnitude = parse_unsigned(s, error);
  if (*error != NumberError::kNone) return 0;
  constexpr std::uint64_t kCutoff = std::uint64_t{1} << 63;
  if ((!negative && magnitude >= kCutoff) || (negative && magnitude > kCutoff)) {
    *error = NumberError::kRange;
    return 0;
  }
  if (negative)
    return magnitude == kCutoff ? std::numeric_limits<std::int64_t>::min()
                                : -static_cast<std::int64_t>(magnitude);
  return static_cast<std::int64_t>(magnitude);
}

// Underscores only between digits, as the decoder's float parser allows them.
bool underscores_ok(std::string_view s) {
  char saw = '^';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      saw = '0';
    } else if (c == '_') {
      if (saw != '0') return false;
      saw = '_';
    } else {
      if (saw == '_') return false;
      saw = '!';
    }
  }
  return saw != '_';
}

// A decimal float already checked for its syntax; nullopt when it overflows (an underflow is
// zero, as the decoder has it).
std::optional<double> parse_decimal_float(const std::string& s) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  errno = 0;
  char* end = nullptr;
  const double v = strtod_l(s.c_str(), &end, c_locale);
  if (end != s.c_str() + s.size()) return std::nullopt;
  if (errno == ERANGE && std::isinf(v)) return std::nullopt;
  return v;
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

// A plain scalar as the decoder resolves it: the YAML 1.1 words, then integers (any base,
// underscores ignored), then floats; anything else is a string. Only a first character that
// can start one of those is looked at further.
Resolved resolve_plain(std::string_view s) {
  const char hint = s.empty() ? 'N' : s[0];
  const bool sign = hint == '+' || hint == '-';
  const bool digit = hint >= '0' && hint <= '9';
  if (!sign && !digit && hint != '.' && hint != 'N' &&
      std::string_view("yYnNtTfFoO~").find(hint) == std::string_view::npos) {
    return {Kind::kStr, std::string(s)};
  }
  if (const Resolved* word = from_words(s)) return *word;
  if (hint == '.') {
    static const std::regex dot_float(R"(^\.[0-9_]+([eE][-+]?[0-9_]+)?$)");
    const std::string text(s);
    if (std::regex_match(text, dot_float) && underscores_ok(text)) {
      if (auto v = parse_decimal_float(without_underscores(text))) return {Kind::kFloat, *v};
    }
    return {Kind::kStr, std::string(s)};
  }
  if (sign || digit) {
    const std::string plain = without_underscores(s);
    NumberError error;
    const std::int64_t i = parse_signed(plain, &error);
    if (error == NumberError::kNone) return {Kind::kInt, i};
    const std::uint64_t u = parse_unsigned(plain, &error);
    if (error == NumberError::kNone) return {Kind::kInt, u};
    static const std::regex float_re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
    if (std::regex_match(plain, float_re)) {
      if (auto v = parse_decimal_float(plain)) return {Kind::kFloat, *v};
    }
  }
  return {Kind::kStr, std::string(s)};
}

// Standard base64 with padding; line breaks are skipped.
std::optional<std::string> base64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  int chars = 0;
  int padding = 0;
  for (char c : in) {
    if (c == '\r' || c == '\n') continue;
    ++chars;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (chars % 4 != 0 || padding > 2) return std::nullopt;
  return out;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n;
  std::uint32_t cp;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) {
    n = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    n = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    n = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  const bool overlong = (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Bytes that are not UTF-8 become U+FFFD, one for each, as JSON encoding has it.
std::string valid_utf8(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// A scalar node with its tag: untagged plain ones are resolved, quoted and block ones are
// strings, and an explicit standard tag must agree with what the text resolves to.
Resolved resolve_scalar(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& text = node.Scalar();
  if (tag == "?") return resolve_plain(text);
  if (tag.rfind(kTagPrefix, 0) != 0) return {Kind::kStr, text};  // "!" (quoted), local tags
  const std::string_view name = std::string_view(tag).substr(kTagPrefix.size());
  if (name == "binary") {
    auto decoded = base64_decode(text);
    if (!decoded) unsupported("yaml: !!binary value contains invalid base64 data");
    return {Kind::kStr, valid_utf8(*decoded)};
  }
  Kind wanted;
  if (name == "null") {
    wanted = Kind::kNull;
  } else if (name == "bool") {
    wanted = Kind::kBool;
  } else if (name == "int") {
    wanted = Kind::kInt;
  } else if (name == "float") {
    wanted = Kind::kFloat;
  } else if (name == "timestamp") {
    // Read as a timestamp, kept as its text: a string either way.
    return {Kind::kStr, text};
  } else {
    return {Kind::kStr, text};  // !!str, and the collection tags on a scalar
  }
  Resolved r = resolve_plain(text);
  if (r.kind == wanted) return r;
  if (wanted == Kind::kFloat && r.kind == Kind::kInt) {
    return {Kind::kFloat, r.value.is_number_unsigned()
                              ? static_cast<double>(r.value.get<std::uint64_t>())
                              : static_cast<double>(r.value.get<std::int64_t>())};
  }
  unsupported(std::string("yaml: cannot decode ") + kind_name(r.kind) + " `" + text + "` as a " +
              kind_name(wanted));
}

// A value as the server holds it once the JSON is decoded: whole floats that print without an
// exponent are integers, integers beyond int64 are floats; NaN and infinities have no JSON.
json json_value(Resolved r) {
  if (r.value.is_number_unsigned()) return static_cast<double>(r.value.get<std::uint64_t>());
  if (!r.value.is_number_float()) return std::move(r.value);
  const double v = r.value.get<double>();
  if (std::isnan(v)) unsupported("json: unsupported value: NaN");
  if (std::isinf(v))
    unsupported(v > 0 ? "json: unsupported value: +Inf" : "json: unsupported value: -Inf");
  if (std::floor(v) == v && std::fabs(v) < 1e21 && v >= -9223372036854775808.0 &&
      v < 9223372036854775808.0) {
    return static_cast<std::int64_t>(v);
  }
  return v;
}

// A float key in the decoder's words: the shortest form of its float32, %e past 1e+06.
std::string float_key(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  // Past float32's range the key is its infinity (the cast of such a double is not defined).
  if (std::fabs(v) > std::numeric_limits<float>::max()) return v > 0 ? ".inf" : "-.inf";
  const float f = static_cast<float>(v);
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof sci, f, std::chars_format::scientific);
  const std::string s(sci, r.ptr);
  const int exponent = std::atoi(s.c_str() + s.find('e') + 1);
  if (exponent < -4 || exponent >= 6) return s;  // "1e+06", "1.5e-07"
  char fixed[64];
  r = std::to_chars(fixed, fixed + sizeof fixed, f, std::chars_format::fixed);
  return std::string(fixed, r.ptr);
}

// ---- Nodes ---------------------------------------------------------------------------------

struct Walk {
  std::size_t values = 0;
};

json convert(const YAML::Node& node, int depth, Walk& walk);

bool is_merge_key(const YAML::Node& key) {
  return key.IsScalar() && key.Scalar() == "<<" &&
         (key.Tag() == "?" || key.Tag() == std::string(kTagPrefix) + "merge");
}

std::string key_string(const YAML::Node& key) {
  if (key.IsNull() || !key.IsDefined()) unsupported("yaml: unsupported map key: null");
  if (!key.IsScalar()) {
    YAML::Emitter out;
    out << YAML::Flow << key;
    unsupported(std::string("yaml: invalid map key: ") + out.c_str());
  }
  const Resolved r = resolve_scalar(key);
  switch (r.kind) {
    case Kind::kStr:
      return r.value.get<std::string>();
    case Kind::kBool:
      return r.value.get<bool>() ? "true" : "false";
    case Kind::kInt:
      if (r.value.is_number_unsigned()) unsupported("yaml: unsupported map key: " + key.Scalar());
      return std::to_string(r.value.get<std::int64_t>());
    case Kind::kFloat:
      return float_key(r.value.get<double>());
    case Kind::kNull:
      unsupported("yaml: unsupported map key: null");
  }
  return key.Scalar();
}

// `<<: *base` or `<<: [*a, *b]`: the entries of the maps, set in order (an earlier map of a
// list wins over a later one, and a key written after the merge over both).
void merge_into(json& out, const YAML::Node& value, int depth, Walk& walk) {
  const auto take = [&](const YAML::Node& map) {
    if (!map.IsMap()) unsupported("yaml: map merge requires map or sequence of maps as the value");
    json entries = convert(map, depth + 1, walk);
    for (auto& [k, v] : entries.items())
      out[k] = std::move(v);
  };
  if (value.IsMap()) {
    take(value);
  } else if (value.IsSequence()) {
    for (std::size_t i = value.size(); i-- > 0;)
      take(value[i]);
  } else {
    unsupported("yaml: map merge requires map or sequence of maps as the value");
  }
}

json convert(const YAML::Node& node, int depth, Walk& walk) {
  if (depth > kYamlMaxDepth) {
    unsupported("nested more than " + std::to_string(kYamlMaxDepth) +
                " levels deep (an alias used inside its own anchor?)");
  }
  if (++walk.values > kYamlMaxValues) {
    unsupported("more than " + std::to_string(kYamlMaxValues) +
                " values once its aliases are expanded");
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return json_value(resolve_scalar(node));
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node)
        out.push_back(convert(item, depth + 1, walk));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) {
        if (is_merge_key(kv.first)) {
          merge_into(out, kv.second, depth, walk);
        } else {
          out[key_string(kv.first)] = convert(kv.second, depth + 1, walk);
        }
      }
      return out;
    }
  }
  return nullptr;
}

// The first byte that is not UTF-8 and what is wrong with it, in the decoder's words; npos
// when the text is UTF-8 (or has a UTF-16 byte order mark, which yaml-cpp reads).
std::size_t invalid_utf8(std::string_view s, std::string* why) {
  if (s.size() >= 2 && ((s[0] == '\xFE' && s[1] == '\xFF') || (s[0] == '\xFF' && s[1] == '\xFE')))
    return std::string_view::npos;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      const auto b = static_cast<unsigned char>(s[i]);
      *why = (b & 0xC0) == 0x80 || b >= 0xF8 ? "invalid leading UTF-8 octet"
                                             : "incomplete UTF-8 octet sequence";
      return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

int line_of(std::string_view s, std::size_t offset) {
  return static_cast<int>(std::count(s.begin(), s.begin() + static_cast<long>(offset), '\n'));
}

// One document's text to JSON; `line` of an error is within `text`.
std::optional<json> convert_text(std::string_view text, YamlError* error) {
  const auto fail = [&](YamlError::Kind kind, int line, std::string message) {
    if (error != nullptr) {
      error->kind = kind;
      error->line = line;
      error->message = std::move(message);
    }
    return std::nullopt;
  };
  std::string why;
  if (const std::size_t bad = invalid_utf8(text, &why); bad != std::string_view::npos) {
    return fail(YamlError::Kind::kSyntax, line_of(text, bad), why);
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(YamlError::Kind::kSyntax, e.mark.is_null() ? -1 : e.mark.line, e.msg);
  }
  try {
    Walk walk;
    return convert(root, 0, walk);
  } catch (const Failure& f) {
    return fail(f.kind, -1, f.message);
  } catch (const YAML::Exception& e) {
    return fail(YamlError::Kind::kUnsupported, -1, e.msg);
  }
}

struct DocumentText {
  std::string text;
  int first_line = 0;
};

// Splits a stream at "---" lines so that each document parses on its own and an error can name
// its document.
std::vector<DocumentText> split_documents(std::string_view yaml) {
  std::vector<DocumentText> docs(1);
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < yaml.size()) {
    std::size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) end = yaml.size();
    const std::string_view line = yaml.substr(pos, end - pos);
    if (line.rfind("---", 0) == 0 &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
      docs.push_back({std::string(line.substr(3)) + "\n", line_no});
    } else if (line == "..." || line == "...\r") {
      // end-of-document marker: the next document starts at the next "---"
    } else {
      docs.back().text.append(line).append("\n");
    }
    pos = end + 1;
    ++line_no;
  }
  return docs;
}

bool blank_document(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#') return false;
  }
  return true;
}

void find_duplicates(const YAML::Node& node, std::vector<YamlDuplicateKey>& out, int depth) {
  if (depth > kYamlMaxDepth) return;
  if (node.IsMap()) {
    std::vector<std::string> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        const auto& key = kv.first.Scalar();
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
          out.push_back({kv.first.Mark().line + 1, key});
        } else {
          seen.push_back(key);
        }
      }
      find_duplicates(kv.second, out, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node)
      find_duplicates(item, out, depth + 1);
  }
}

}  // namespace

std::optional<json> yaml_to_json(std::string_view text, YamlError* error) {
  return convert_text(text, error);
}

std::optional<std::vector<YamlDocument>> yaml_documents_to_json(std::string_view stream,
                                                                YamlError* error) {
  std::vector<YamlDocument> out;
  int number = 0;
  for (const auto& doc : split_documents(stream)) {
    if (blank_document(doc.text)) continue;
    ++number;
    YamlError e;
    auto value = convert_text(doc.text, &e);
    if (!value) {
      if (error != nullptr) {
        *error = std::move(e);
        error->document = number;
        if (error->line >= 0) error->line += doc.first_line;
      }
      return std::nullopt;
    }
    out.push_back({std::move(*value), number, doc.first_line});
  }
  return out;
}

bool yaml_plain_is_string(std::string_view text) {
  if (text.empty() || text.front() == ' ' || text.back() == ' ' || text == "<<") return false;
  return resolve_plain(text).kind == Kind::kStr;
}

std::optional<json> parse_yaml(const std::string& text, std::string* error) {
  YamlError e;
  auto value = convert_text(text, &e);
  if (!value && error != nullptr) {
    if (e.kind == YamlError::Kind::kSyntax) {
      *error = "yaml: ";
      if (e.line >= 0) *error += "line " + std::to_string(e.line + 1) + ": ";
      *error += e.message;
    } else {
      *error = e.message;
    }
  }
  return value;
}

std::vector<YamlDuplicateKey> yaml_duplicate_keys(const std::string& text) {
  std::vector<YamlDuplicateKey> out;
  try {
    find_duplicates(YAML::Load(text), out, 0);
  } catch (const YAML::Exception&) {
    return {};
  }
  return out;
}

std::optional<json> parse_json_or_yaml(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  return convert_text(text, nullptr);
}

}  // namespace kubefn::emulator
