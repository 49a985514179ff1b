#include "replica_log.hpp"

#include <algorithm>
#include <fstream>

namespace kubefn::platform::local::detail {

std::string log_tail(const std::string& path, std::uintmax_t offset, int max_lines,
                     std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(0, std::ios::end);
  auto end = static_cast<std::uintmax_t>(in.tellg());
  if (end <= offset) return {};
  auto from = std::max<std::uintmax_t>(offset, end > max_bytes ? end - max_bytes : 0);
  in.seekg(static_cast<std::streamoff>(from));
  std::string text(static_cast<std::size_t>(end - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (from > offset) {
    auto nl = text.find('\n');
    if (nl != std::string::npos) text.erase(0, nl + 1);
  }
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  int lines = 0;
  for (std::size_t i = text.size(); i-- > 0;) {
    if (text[i] == '\n' && ++lines == max_lines) {
      text.erase(0, i + 1);
      break;
    }
  }
  return text;
}

std::uint16_t listening_port(std::string_view line) {
  if (line.find("\"msg\":\"listening\"") == std::string_view::npos) return 0;
  auto at = line.find("\"port\":");
  if (at == std::string_view::npos) return 0;
  unsigned value = 0;
  bool any = false;
  for (std::size_t i = at + 7; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    value = value * 10 + static_cast<unsigned>(line[i] - '0');
    any = true;
    if (value > 65535) return 0;
  }
  return any ? static_cast<std::uint16_t>(value) : 0;
}

}  // namespace kubefn::platform::local::detail
