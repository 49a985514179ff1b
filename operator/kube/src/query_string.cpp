#include "query_string.hpp"

namespace kubefn::kube {

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' || byte == '.' || byte == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

QueryString& QueryString::add(std::string_view name, const std::string& value) {
  if (!value.empty()) params_.emplace_back(std::string(name), value);
  return *this;
}

std::string QueryString::str() const {
  std::string out;
  for (const auto& [name, value] : params_) {
    out += out.empty() ? "?" : "&";
    out += percent_encode(name) + "=" + percent_encode(value);
  }
  return out;
}

}  // namespace kubefn::kube
