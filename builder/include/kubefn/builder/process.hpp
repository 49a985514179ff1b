#pragma once

#include <sys/types.h>

#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace kubefn::builder {

struct ProcessResult {
  int exit_code = -1;  // 127 when the program could not be started, 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Stops the programs run_process runs on one job's behalf, from any thread. Each such program
// runs in a process group of its own; cancel() kills the groups running now (SIGKILL: the
// compiler and everything it started) and makes every later run_process with this
// Cancellation return at once (exit code 128+SIGKILL) without starting anything.
class Cancellation {
 public:
  void cancel();
  bool cancelled() const;

  // For run_process: registers a running group (false, and nothing registered, once
  // cancelled: the caller kills it) and forgets it before the leader is reaped.
  bool track(pid_t group);
  void untrack(pid_t group);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::set<pid_t> groups_;
};

// Runs argv[0] (looked up on PATH) to completion in `cwd` (when not empty), capturing stdout and
// stderr. `env` entries ("NAME=value") are added to the inherited environment. With `cancel`,
// the program runs in its own process group, which cancel->cancel() kills.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& cwd = {},
                          const std::vector<std::string>& env = {}, Cancellation* cancel = nullptr);

}  // namespace kubefn::builder
