#include "kubefn/oci/www_authenticate.hpp"

#include <cctype>

namespace kubefn::oci {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

void skip_space(std::string_view text, std::size_t& pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
    ++pos;
}

// An unquoted parameter value: everything up to a comma or white space.
std::string read_value(std::string_view text, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < text.size() && text[pos] != ',' && text[pos] != ' ' && text[pos] != '\t')
    ++pos;
  return std::string(text.substr(start, pos - start));
}

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(std::string_view text) {
  std::vector<AuthChallenge> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    skip_space(text, pos);
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    const std::size_t scheme_start = pos;
    while (pos < text.size() && is_token_char(text[pos]))
      ++pos;
    if (pos == scheme_start) {
      ++pos;  // junk: skip a character and try again
      continue;
    }
    AuthChallenge challenge;
    challenge.scheme = lower(text.substr(scheme_start, pos - scheme_start));
    // Parameters: name=value pairs separated by commas, until the next scheme starts (a token
    // not followed by '=').
    while (pos < text.size()) {
      std::size_t probe = pos;
      skip_space(text, probe);
      while (probe < text.size() && text[probe] == ',') {
        ++probe;
        skip_space(text, probe);
      }
      const std::size_t name_start = probe;
      while (probe < text.size() && is_token_char(text[probe]))
        ++probe;
      if (probe == name_start) {
        pos = probe;
        break;
      }
      std::size_t eq = probe;
      skip_space(text, eq);
      if (eq >= text.size() || text[eq] != '=') break;  // the next challenge's scheme
      const std::string name = lower(text.substr(name_start, probe - name_start));
      pos = eq + 1;
      skip_space(text, pos);
      std::string value;
      if (pos < text.size() && text[pos] == '"') {
        ++pos;
        while (pos < text.size() && text[pos] != '"') {
          if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
          value.push_back(text[pos++]);
        }
        if (pos < text.size()) ++pos;  // closing quote
      } else {
        value = read_value(text, pos);
      }
      challenge.params[name] = value;
    }
    out.push_back(std::move(challenge));
  }
  return out;
}

}  // namespace kubefn::oci
