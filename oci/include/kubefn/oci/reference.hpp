#pragma once

#include <string>
#include <string_view>

#include "kubefn/kube/result.hpp"

namespace kubefn::oci {

struct ImageReference {
  std::string registry;    // "127.0.0.1:5000", "ghcr.io"; default "docker.io"
  std::string repository;  // "kubefn/hello" ("library/x" for bare docker.io names)
  std::string tag;         // may be empty
  std::string digest;      // may be empty

  std::string str() const;                                   // registry/repository[:tag][@digest]
  std::string with_digest(const std::string& digest) const;  // registry/repository@digest
  // The tag, else the digest, else "latest": what to ask the registry for.
  std::string reference() const;
};

// Parses "[registry/]repository[:tag][@digest]" the way docker does: the first component is a
// registry when it has a "." or ":" or is "localhost".
kube::Result<ImageReference> parse_reference(std::string_view text);

}  // namespace kubefn::oci
