#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not finish in time (it was killed)
  std::string out;
  std::string err;
};

// A program started in the background with its output captured, for a test that acts while it
// runs (a watch, a wait) and collects the result after. Killed when destroyed still running.
class BackgroundCommand {
 public:
  // `env` is added to the test's own environment; `stdin_text` is its whole input.
  explicit BackgroundCommand(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env = {},
                             const std::string& stdin_text = {});
  // Its standard output so far.
  std::string out() const;
  // True once its standard output contains `text` (waits up to `timeout`).
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
  // Waits for it to exit, killing it at the timeout, and returns what it wrote.
  CommandResult wait(std::chrono::milliseconds timeout);

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
};

// Runs a program to completion (killed at the timeout) and captures its output.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::string& stdin_text = {});

}  // namespace kubefn::testing
