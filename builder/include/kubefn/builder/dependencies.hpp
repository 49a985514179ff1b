#pragma once

#include <string>
#include <vector>

#include "kubefn/kube/result.hpp"

namespace kubefn::builder {

// Compiler and linker flags a Debian development package contributes to a function build.
struct DependencyFlags {
  std::vector<std::string> cflags;  // e.g. -I/usr/include/foo
  std::vector<std::string> libs;    // e.g. -lz
};

// True for names dpkg accepts ("zlib1g-dev", "libssl-dev", "libfoo-dev:amd64").
bool valid_package_name(const std::string& name);

// The packages of `packages` that are not installed.
kube::Result<std::vector<std::string>> missing_packages(const std::vector<std::string>& packages);

// Makes sure every package is installed: with `install`, runs
// `apt-get install -y --no-install-recommends` for the missing ones (updating the package lists
// first when they are absent); without, fails naming the missing ones.
kube::Status ensure_packages(const std::vector<std::string>& packages, bool install);

// Flags derived from the files a package installed (`dpkg -L`): its pkg-config modules
// (`pkg-config --cflags --libs`), or else `-l<name>` for each lib<name>.so development link.
kube::Result<DependencyFlags> dependency_flags(const std::string& package);

// The part of dependency_flags that needs no pkg-config: picks the .pc module names and the
// -l flags from a package's file list.
struct PackageFiles {
  std::vector<std::string> pc_modules;     // "zlib"
  std::vector<std::string> pc_dirs;        // "/usr/lib/x86_64-linux-gnu/pkgconfig"
  std::vector<std::string> library_flags;  // "-lz", from lib*.so links
};
PackageFiles classify_package_files(const std::vector<std::string>& files);

}  // namespace kubefn::builder
