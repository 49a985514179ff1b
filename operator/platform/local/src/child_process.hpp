#pragma once

// Starting and signalling the supervisor's child processes (private to the module).

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace kubefn::platform::local::detail {

struct SpawnSpec {
  std::vector<std::string> argv;           // argv[0] is a path or a name found on PATH
  std::map<std::string, std::string> env;  // added to (and overriding) our environment
  std::string output_path;                 // stdout and stderr, appended
  int death_signal = 9;                    // sent to the child when the spawning thread dies
};

struct Spawned {
  pid_t pid = -1;     // -1 when nothing was started
  int pidfd = -1;     // readable once the child exited; -1 when the kernel has no pidfds
  std::string error;  // why nothing was started
};

// Forks and execs: stdin from /dev/null, stdout and stderr appended to output_path, its own
// process group, no inherited descriptors, default signal dispositions.
Spawned spawn(const SpawnSpec& spec);

// "exited with code 3", "killed by signal 9 (SIGKILL)".
std::string describe_wait_status(int status);

// The full path of `name` on PATH (or `name` itself when it holds a slash); empty if absent.
std::string find_program(const std::string& name);

}  // namespace kubefn::platform::local::detail
