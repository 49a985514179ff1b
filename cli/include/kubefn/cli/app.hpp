// The kubefn command line: the command table and its entry point.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace kubefn::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// The command table: the global flags, then on run() this library's commands. A command that
// lives in another library (`kubefn up`, from the local platform) is added to app() before
// run() by the executable that links both, and runs in its own CLI11 callback: it ends with
// CLI::Success, or CLI::RuntimeError carrying its exit code.
class CommandLine {
 public:
  // Output goes to `out`, messages to `err`.
  CommandLine(std::istream& in, std::ostream& out, std::ostream& err);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  CLI::App& app();

  // Parses argv, runs the command, returns the exit code. Call it once.
  int run(int argc, char** argv);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string version();

}  // namespace kubefn::cli
