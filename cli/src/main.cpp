// kubefn (also kubectl-fn): the command line of kubefn, with `kubefn up` from the local platform.
#include <iostream>

#include "kubefn/cli/app.hpp"
#include "kubefn/platform/local/up_command.hpp"

int main(int argc, char** argv) {
  kubefn::cli::CommandLine cli(std::cin, std::cout, std::cerr);
  kubefn::platform::local::add_up_command(cli.app());
  return cli.run(argc, argv);
}
