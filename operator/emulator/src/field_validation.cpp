#include "field_validation.hpp"

#include <set>

#include "field_errors.hpp"
#include "go_format.hpp"

namespace kubefn::emulator {
namespace {

constexpr std::size_t kMaxStrictErrors = 100;

// Walks a JSON text the way sigs.k8s.io/json's strict decoder does, recording duplicate keys
// (and, for JSON patch documents, fields a patch operation does not have) with the decoder's
// field path. Gives up quietly on malformed text.
class StrictScanner {
 public:
  enum class Mode { kMap, kJsonPatch };

  StrictScanner(std::string_view text, Mode mode) : t_(text), mode_(mode) {}

  bool run() {
    std::string path;
    ws();
    if (!value(path, 0, true)) return false;
    ws();
    return i_ == t_.size();
  }

  std::vector<std::string> errors;
  std::vector<std::pair<int, std::string>> duplicate_lines;  // (line, key)

 private:
  void ws() {
    while (i_ < t_.size() &&
           (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) {
      if (t_[i_] == '\n') ++line_;
      ++i_;
    }
  }

  void save(const std::string& kind, const std::string& parent, const std::string& key) {
    const std::string text = kind + " " + go_quote(parent.empty() ? key : parent + "." + key);
    if (errors.size() >= kMaxStrictErrors || !seen_.insert(text).second) return;
    errors.push_back(text);
  }

  bool string(std::string* out) {
    if (i_ >= t_.size() || t_[i_] != '"') return false;
    const std::size_t start = i_++;
    while (i_ < t_.size() && t_[i_] != '"') {
      if (t_[i_] == '\\') ++i_;
      ++i_;
    }
    if (i_ >= t_.size()) return false;
    ++i_;
    if (out != nullptr) {
      const auto literal = t_.substr(start + 1, i_ - start - 2);
      if (literal.find('\\') == std::string_view::npos) {
        out->assign(literal);
      } else {
        auto parsed = nlohmann::json::parse(t_.substr(start, i_ - start), nullptr, false);
        if (!parsed.is_string()) return false;
        *out = parsed.get<std::string>();
      }
    }
    return true;
  }

  // `record` is false inside values the decoder skips (unknown fields of a patch operation).
  bool value(std::string& path, int depth, bool record) {
    if (i_ >= t_.size()) return false;
    const char c = t_[i_];
    if (c == '{') return object(path, depth, record);
    if (c == '[') return array(path, depth, record);
    if (c == '"') return string(nullptr);
    while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && t_[i_] != ']' && t_[i_] != ' ' &&
           t_[i_] != '\n' && t_[i_] != '\t' && t_[i_] != '\r')
      ++i_;
    return true;
  }

  bool object(std::string& path, int depth, bool record) {
    ++i_;
    std::set<std::string> keys;
    ws();
    if (i_ < t_.size() && t_[i_] == '}') {
      ++i_;
      return true;
    }
    const bool patch_op = mode_ == Mode::kJsonPatch && depth == 1;
    while (true) {
      ws();
      const int key_line = line_;
      std::string key;
      if (!string(&key)) return false;
      const bool known =
          !patch_op || key == "op" || key == "path" || key == "from" || key == "value";
      if (record && !known) {
        save("unknown field", path, key);
      } else if (record && !keys.insert(key).second) {
        save("duplicate field", path, key);
        duplicate_lines.emplace_back(key_line, key);
      }
      ws();
      if (i_ >= t_.size() || t_[i_] != ':') return false;
      ++i_;
      ws();
      const auto mark = path.size();
      if (known) path += (path.empty() ? "" : ".") + key;
      if (!value(path, depth + 1, record && known)) return false;
      path.resize(mark);
      ws();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  bool array(std::string& path, int depth, bool record) {
    ++i_;
    ws();
    if (i_ < t_.size() && t_[i_] == ']') {
      ++i_;
      return true;
    }
    for (std::size_t n = 0;; ++n) {
      ws();
      const auto mark = path.size();
      path += "[" + std::to_string(n) + "]";
      if (!value(path, depth + 1, record)) return false;
      path.resize(mark);
      ws();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  std::string_view t_;
  Mode mode_;
  std::size_t i_ = 0;
  int line_ = 1;
  std::set<std::string> seen_;
};

bool has_control_characters(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    // C1 controls U+0080..U+009F are encoded as C2 80..C2 9F.
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F)
      return true;
  }
  return false;
}

std::string truncate_runes(const std::string& s, std::size_t runes) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size() && n < runes) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
      ++i;
    ++n;
  }
  return s.substr(0, i);
}

std::string header_for(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return "299 - " + quoted + "\"";
}

}  // namespace

Result<FieldValidation> parse_field_validation(const std::string& value,
                                               const std::string& options_kind) {
  if (value.empty() || value == "Warn") return FieldValidation::kWarn;
  if (value == "Strict") return FieldValidation::kStrict;
  if (value == "Ignore") return FieldValidation::kIgnore;
  return invalid("meta.k8s.io", options_kind, "",
                 {field_not_supported("fieldValidation", value, {"", "Ignore", "Strict", "Warn"})});
}

std::vector<std::string> duplicate_json_fields(std::string_view text) {
  StrictScanner scanner(text, StrictScanner::Mode::kMap);
  if (!scanner.run()) return {};
  return std::move(scanner.errors);
}

std::vector<std::string> json_patch_strict_errors(std::string_view text) {
  StrictScanner scanner(text, StrictScanner::Mode::kJsonPatch);
  if (!scanner.run()) return {};
  std::vector<std::string> out;
  for (auto& e : scanner.errors)
    out.push_back("json patch " + e);
  return out;
}

std::vector<std::string> apply_duplicate_keys(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
    ++i;
  if (i >= text.size() || text[i] != '{') return {};
  StrictScanner scanner(text, StrictScanner::Mode::kMap);
  if (!scanner.run()) return {};
  std::vector<std::string> out;
  for (const auto& [line, key] : scanner.duplicate_lines)
    out.push_back("line " + std::to_string(line) + ": key " + go_quote(key) +
                  " already set in map");
  return out;
}

std::string strict_decoding_message(const std::vector<std::string>& errors) {
  std::string out = "strict decoding error: ";
  for (std::size_t i = 0; i < errors.size(); ++i)
    out += (i > 0 ? ", " : "") + errors[i];
  return out;
}

std::vector<std::string> warning_headers(const std::vector<std::string>& texts) {
  constexpr std::size_t kTotalRunes = 4 * 1024;
  constexpr std::size_t kItemRunes = 256;
  std::vector<std::string> headers;
  std::vector<std::string> ordered;
  std::set<std::string> recorded;
  std::size_t written = 0;
  bool truncating = false;
  for (const auto& original : texts) {
    if (original.empty()) continue;
    if (written >= kTotalRunes && truncating) break;
    if (!recorded.insert(original).second) continue;
    ordered.push_back(original);
    std::string text = original;
    std::size_t runes = rune_count(text);
    if (truncating && runes > kItemRunes) {
      text = truncate_runes(text, kItemRunes);
      runes = kItemRunes;
    }
    if (has_control_characters(text)) continue;
    if (written + runes <= kTotalRunes || truncating) {
      written += runes;
      headers.push_back(header_for(text));
      continue;
    }
    // Over the limit: start again with every warning cut to kItemRunes.
    truncating = true;
    written = 0;
    headers.clear();
    for (const auto& w : ordered) {
      std::string cut = w;
      std::size_t n = rune_count(cut);
      if (n > kItemRunes) {
        cut = truncate_runes(cut, kItemRunes);
        n = kItemRunes;
      }
      if (has_control_characters(cut)) continue;
      written += n;
      headers.push_back(header_for(cut));
    }
  }
  return headers;
}

}  // namespace kubefn::emulator
