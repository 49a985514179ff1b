// `kubefn up` as a command of the kubefn command line: its flags, and run_up() when it is
// chosen. The kubefn executable adds it to the CLI's command table (cli/src/main.cpp).
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace kubefn::platform::local {

// Adds the `up` subcommand to `app`. It runs in its callback and ends with CLI::Success, or
// CLI::RuntimeError carrying run_up's exit code.
void add_up_command(CLI::App& app);

}  // namespace kubefn::platform::local
