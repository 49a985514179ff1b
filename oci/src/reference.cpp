#include "kubefn/oci/reference.hpp"

#include <regex>

#include "kubefn/oci/digest.hpp"

namespace kubefn::oci {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;

Status bad(std::string_view text, const std::string& why) {
  return Status(StatusCode::kInvalid,
                "invalid image reference \"" + std::string(text) + "\": " + why);
}

bool valid_component(const std::string& component) {
  static const std::regex kComponent("[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*");
  return std::regex_match(component, kComponent);
}

bool valid_tag(const std::string& tag) {
  static const std::regex kTag("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  return std::regex_match(tag, kTag);
}

bool valid_registry(const std::string& registry) {
  // host[:port], host being a DNS name, IPv4 address or bracketed IPv6 address.
  static const std::regex kRegistry(
      "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
      "|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");
  return std::regex_match(registry, kRegistry);
}

}  // namespace

std::string ImageReference::str() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageReference::with_digest(const std::string& new_digest) const {
  return registry + "/" + repository + "@" + new_digest;
}

std::string ImageReference::reference() const {
  if (!tag.empty()) return tag;
  if (!digest.empty()) return digest;
  return "latest";
}

Result<ImageReference> parse_reference(std::string_view text) {
  if (text.empty()) return bad(text, "empty");
  if (text.size() > 4096) return bad(text, "too long");
  for (char c : text) {
    if (c <= ' ' || c == 0x7f) return bad(text, "contains whitespace or control characters");
  }
  ImageReference out;
  std::string rest(text);
  if (const auto at = rest.find('@'); at != std::string::npos) {
    out.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!is_valid_digest(out.digest)) {
      return bad(text, "digest must be sha256: followed by 64 lowercase hex digits");
    }
  }
  const auto last_slash = rest.rfind('/');
  if (const auto colon = rest.rfind(':');
      colon != std::string::npos && (last_slash == std::string::npos || colon > last_slash)) {
    out.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!valid_tag(out.tag)) {
      return bad(text, "tag \"" + out.tag + "\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
  }
  const auto first_slash = rest.find('/');
  std::string first = rest.substr(0, first_slash);
  if (first_slash != std::string::npos &&
      (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
       first == "localhost" ||
       first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)) {
    out.registry = first;
    out.repository = rest.substr(first_slash + 1);
    if (!valid_registry(out.registry)) {
      return bad(text, "registry \"" + out.registry + "\" is not a valid host[:port]");
    }
  } else {
    out.registry = "docker.io";
    out.repository = rest;
  }
  if (out.registry == "index.docker.io" || out.registry == "registry-1.docker.io") {
    out.registry = "docker.io";
  }
  if (out.repository.empty()) return bad(text, "no repository name");
  std::size_t start = 0;
  while (true) {
    const auto slash = out.repository.find('/', start);
    const std::string component = out.repository.substr(start, slash - start);
    if (component.empty()) return bad(text, "empty path component in the repository name");
    if (!valid_component(component)) {
      return bad(text, "repository component \"" + component +
                           "\" must be lowercase letters, digits and single separators (. _ __ -)");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (out.repository.size() > 255) return bad(text, "repository name longer than 255 characters");
  if (out.registry == "docker.io" && out.repository.find('/') == std::string::npos) {
    out.repository = "library/" + out.repository;
  }
  return out;
}

}  // namespace kubefn::oci
