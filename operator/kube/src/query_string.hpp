#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubefn::kube {

// Builds "?a=1&b=x%3Dy" from the parameters that are set; empty values are left out.
class QueryString {
 public:
  QueryString& add(std::string_view name, const std::string& value);
  std::string str() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

std::string percent_encode(std::string_view text);

}  // namespace kubefn::kube
