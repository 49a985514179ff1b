// The kubefn command line: the command table and its entry point.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace kubefn::cli {

// Exit codes of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Commands that live in other libraries and are registered into the command table.
struct Extensions {
  std::function<void(CLI::App&)> add_up;  // kubefn::cli::add_up_command when built (up.hpp)
};

// Parses argv, runs the command, returns the exit code. Output goes to `out`, messages to `err`.
int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err,
        const Extensions& extensions = {});

std::string version();

}  // namespace kubefn::cli
