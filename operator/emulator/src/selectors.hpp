#pragma once

// Label selectors (k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k, k>1, k<1) and field
// selectors (f=v, f==v, f!=v), both comma-separated conjunctions, parsed as
// k8s.io/apimachinery parses them, with its error texts.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_error.hpp"

namespace kubefn::emulator {

class LabelSelector {
 public:
  static Result<LabelSelector> parse(const std::string& text);
  bool matches(const nlohmann::json& labels) const;
  bool empty() const { return requirements_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists, kGreater, kLess };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  // How a kind words a field label it does not support, as its conversion function does.
  enum class UnknownLabel {
    kNotSupported,  // "field label not supported: spec.x" (custom resources, pods, secrets, ...)
    kDefault,       // "\"data.a\" is not a known field selector: only ..." (the other kinds)
    kJob,           // "field label \"spec.x\" not supported for Job"
  };
  // `supported` lists the field labels besides metadata.name and metadata.namespace.
  static Result<FieldSelector> parse(const std::string& text,
                                     const std::vector<std::string>& supported,
                                     UnknownLabel unknown = UnknownLabel::kNotSupported);
  bool matches(const nlohmann::json& object) const;
  bool empty() const { return requirements_.empty(); }

 private:
  struct Requirement {
    std::string field;
    bool equals;
    std::string value;
  };
  std::vector<Requirement> requirements_;
};

// Renders a metav1.LabelSelector (or a plain label map) as the string form ("a=b,c in (d)").
std::string label_selector_string(const nlohmann::json& selector);

}  // namespace kubefn::emulator
