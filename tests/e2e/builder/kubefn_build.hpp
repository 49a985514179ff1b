#pragma once

// The builder's end-to-end tests run the real kubefn-build (KUBEFN_BUILD_BIN) and read the
// JSON line it prints.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kubefn/testing/command.hpp"

namespace kubefn::testing {

// kubefn-build ARGS..., to completion (killed after 5 minutes).
inline CommandResult run_kubefn_build(std::vector<std::string> args) {
  args.insert(args.begin(), KUBEFN_BUILD_BIN);
  return run_command(args, {}, std::chrono::seconds(300));
}

// The JSON object kubefn-build printed; an empty object when it printed none.
inline nlohmann::json parse_build_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

}  // namespace kubefn::testing
