#pragma once

#include <string>
#include <vector>

namespace kubefn::build {

struct ProcessResult {
  int exit_code = -1;  // 127 when the program could not be started, 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up on PATH) to completion in `cwd` (when not empty), capturing stdout and
// stderr. `env` entries ("NAME=value") are added to the inherited environment.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& cwd = {},
                          const std::vector<std::string>& env = {});

}  // namespace kubefn::build
