#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace kubefn::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not finish in time (it was killed)
  std::string out;
  std::string err;
};

// Runs a program to completion (killed at the timeout) and captures its output.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::string& stdin_text = {});

}  // namespace kubefn::testing
