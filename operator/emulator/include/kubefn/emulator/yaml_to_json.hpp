// YAML to JSON as the Kubernetes API server converts a YAML body and kubectl converts a
// manifest: YAML 1.1 scalars (yes/no/on/off are booleans; 0x1F, 0o17, 017 and 1_000 are
// integers; .inf and .nan cannot be JSON), explicit tags (!!str 5 is a string, !!int "5" a
// number), merge keys (<<), and map keys made strings (1 is "1", yes is "true"). Numbers are
// what the server holds once the JSON is decoded: a whole float is an integer (1.0 is 1), an
// integer beyond int64 a float.
//
// Library kubefn_yaml: the one YAML-to-JSON conversion of the repository (the emulator, the
// CLI, kubefn up, tests and benches). It needs only yaml-cpp and nlohmann-json, so the
// emulator still depends on nothing else of kubefn, and anything can link it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::emulator {

struct YamlError {
  enum class Kind {
    kSyntax,       // not YAML: `message` is yaml-cpp's, `line` where it found it
    kUnsupported,  // YAML that JSON cannot hold, or that expands beyond the limits below
  };
  Kind kind = Kind::kSyntax;
  int line = -1;     // 0-based line of the text (of the whole stream for a document); -1: unknown
  int document = 0;  // yaml_documents_to_json: 1-based number of the failing document
  std::string message;
};

// JSON is a tree; YAML aliases make a graph, cyclic when an anchor is used inside itself and
// exponentially large when aliases nest. Both are refused rather than expanded without end.
inline constexpr int kYamlMaxDepth = 128;
inline constexpr std::size_t kYamlMaxValues = 100000;

// The first document of `text` as JSON (null for an empty text). On failure nullopt, and
// `error` (when given) says why.
std::optional<nlohmann::json> yaml_to_json(std::string_view text, YamlError* error = nullptr);

// One document of a stream.
struct YamlDocument {
  nlohmann::json value;
  int number = 0;      // 1-based, counting the documents that are not blank
  int first_line = 0;  // 0-based line of the stream where its text starts
};

// Every document of a "---"-separated stream that is not blank (only spaces and comments), in
// order. On the first failure nullopt, and `error` names the document and the stream's line.
std::optional<std::vector<YamlDocument>> yaml_documents_to_json(std::string_view stream,
                                                                YamlError* error = nullptr);

// Whether the plain (unquoted, untagged) scalar `text` reads back as the string `text`; when
// not ("yes", "0x10", "1_000", "~", " a"), a writer must quote it.
bool yaml_plain_is_string(std::string_view text);

// A YAML body (Content-Type application/yaml) as the API server converts it to JSON (a
// repeated key keeps its last value); on failure, nullopt and `error` says why in the
// server's words ("yaml: line 3: ..." for a syntax error).
std::optional<nlohmann::json> parse_yaml(const std::string& text, std::string* error = nullptr);

// JSON, else YAML (an apply patch may be either); nullopt when the text is neither.
std::optional<nlohmann::json> parse_json_or_yaml(const std::string& text);

// A key repeated in a mapping of a YAML text, as the strict YAML decoder reports it.
struct YamlDuplicateKey {
  int line = 0;  // 1-based line of the repeat
  std::string key;
};
// In document order; empty when the text does not parse.
std::vector<YamlDuplicateKey> yaml_duplicate_keys(const std::string& text);

}  // namespace kubefn::emulator
