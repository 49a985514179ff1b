#include "kubefn/builder/diagnostics.hpp"

#include <sstream>

namespace kubefn::builder {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos)) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

bool is_error_line(const std::string& line) {
  return line.find(": error: ") != std::string::npos ||
         line.find(": fatal error: ") != std::string::npos ||
         line.find("undefined reference to") != std::string::npos ||
         line.find("ld: cannot find") != std::string::npos ||
         line.find("ld: error") != std::string::npos;
}

// "/usr/bin/ld: /tmp/ccXXXX.o: in function ..." carries a compiler temp file; shorten it.
std::string clean_line(std::string line, const std::vector<std::string>& strip_prefixes) {
  for (const auto& p : strip_prefixes) {
    std::string prefix = p;
    if (!prefix.empty() && prefix.back() != '/') prefix.push_back('/');
    replace_all(line, prefix, "");
    replace_all(line, p, ".");
  }
  if (line.starts_with("/usr/bin/ld: ")) line = "ld: " + line.substr(13);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  if (line.size() > 300) line = truncate_utf8(line, 300);
  return line;
}

}  // namespace

std::string truncate_utf8(std::string text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes >= 3 ? max_bytes - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  text.resize(cut);
  text += "...";
  return text;
}

std::string summarize_compiler_errors(std::string_view output,
                                      const std::vector<std::string>& strip_prefixes,
                                      std::size_t max_errors, std::size_t max_bytes) {
  std::vector<std::string> errors;
  std::vector<std::string> others;
  std::size_t total_errors = 0;
  std::istringstream in{std::string(output)};
  std::string line;
  while (std::getline(in, line)) {
    if (is_error_line(line)) {
      ++total_errors;
      if (errors.size() < max_errors) errors.push_back(clean_line(line, strip_prefixes));
    } else if (others.size() < max_errors && !line.empty() && line.find_first_not_of(" \t") == 0 &&
               line.find(": In function") == std::string::npos &&
               line.find("In file included from") == std::string::npos) {
      others.push_back(clean_line(line, strip_prefixes));
    }
  }
  const auto& chosen = errors.empty() ? others : errors;
  std::string msg;
  for (const auto& l : chosen) {
    if (!msg.empty()) msg += "\n";
    msg += l;
  }
  if (total_errors > errors.size()) {
    msg += "\n(" + std::to_string(total_errors - errors.size()) + " more errors)";
  }
  if (msg.empty()) msg = "the compiler failed without a message";
  return truncate_utf8(std::move(msg), max_bytes);
}

}  // namespace kubefn::builder
