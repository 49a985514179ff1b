// The `up` command (the embedded local platform) is provided by the kubefn_up library; the
// CLI registers it when that library is part of the build (KUBEFN_HAVE_UP).
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace kubefn::cli {

void add_up_command(CLI::App& app);

}  // namespace kubefn::cli
