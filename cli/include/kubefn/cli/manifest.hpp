// Reading Function manifests: multi-document YAML from files, directories or stdin.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::cli {

// One object of a manifest and where it came from, for messages.
struct ManifestObject {
  nlohmann::json object;
  std::string source;  // file name or "-"
  int document = 0;    // 1-based document number in `source`
};

// Parses every non-empty document of `yaml`. A YAML error names the document and line.
kube::Result<std::vector<ManifestObject>> parse_manifests(std::string_view yaml,
                                                          const std::string& source);

// Reads `path`: "-" is `stdin`, a directory is every *.yaml/*.yml/*.json file in it (sorted;
// in its subdirectories too when `recursive`), anything else one file.
kube::Result<std::vector<ManifestObject>> read_manifests(const std::string& path,
                                                         std::istream& stdin_stream,
                                                         bool recursive = false);

// Checks that an object is a kubefn.dev/v1alpha1 Function whose spec the operator accepts;
// the message says which document and what to change. `ns` fills metadata.namespace when the
// object has none.
kube::Status check_function(ManifestObject& manifest, const std::string& ns);

// Converts JSON to block-style YAML (for -o yaml).
std::string to_yaml(const nlohmann::json& value);

}  // namespace kubefn::cli
