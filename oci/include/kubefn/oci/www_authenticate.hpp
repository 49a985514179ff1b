#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::oci {

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`.
struct AuthChallenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // lower-case names, unquoted values
  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// Parses all challenges of a header value (RFC 7235 syntax, quoted strings with escapes).
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

}  // namespace kubefn::oci
