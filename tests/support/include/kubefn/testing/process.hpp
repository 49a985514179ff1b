#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kubefn::testing {

// A child process (argv[0] found on PATH unless it is a path) with stdin from a file
// (/dev/null by default) and stdout and stderr sent to files. Killed (SIGKILL) and reaped on
// destruction if still running.
class ChildProcess {
 public:
  // `env` is added to (and overrides) the test's own environment.
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::string& stdout_path, const std::string& stderr_path,
               const std::string& stdin_path = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // The exit code (128+signal when killed by one), or nullopt if still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace kubefn::testing
