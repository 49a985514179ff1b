// kubefn (also kubectl-fn): the command line of kubefn.
#include <iostream>

#include "kubefn/cli/app.hpp"
#ifdef KUBEFN_HAVE_UP
#include "kubefn/cli/up.hpp"
#endif

int main(int argc, char** argv) {
  kubefn::cli::Extensions extensions;
#ifdef KUBEFN_HAVE_UP
  extensions.add_up = kubefn::cli::add_up_command;
#endif
  return kubefn::cli::run(argc, argv, std::cin, std::cout, std::cerr, extensions);
}
