#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/builder/process.hpp"
#include "kubefn/builder/source.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::builder {

// FUNC_HANDLER split: "hello.greet" -> {module "hello", function "greet"}.
struct Handler {
  std::string module;
  std::string function;
};
kube::Result<Handler> parse_handler(std::string_view handler);

// Where the SDK headers are: the source tree's for a build-tree kubefn-build, else
// /usr/local/include (the builder image's place).
std::string default_sdk_include();

struct CompileRequest {
  SourceSet sources;                      // see load_sources()
  std::string handler;                    // "module.function"
  std::vector<std::string> dependencies;  // Debian -dev packages, e.g. "zlib1g-dev"
  bool install_dependencies = false;      // apt-get install the missing ones
  std::string sdk_include;                // empty: default_sdk_include()
  std::string compiler = "g++";
  std::string source_digest;  // empty: source_digest(sources)
  // Sonames the image the function will run in already has. nullopt: bundle nothing (the
  // function runs on this machine, which has every library it linked against).
  std::optional<std::set<std::string>> provided_libraries;
  // When set, cancel->cancel() from another thread kills the compiler's process group and the
  // build fails with StatusCode::kCancelled. Not owned.
  Cancellation* cancel = nullptr;
};

struct BundledLibrary {
  std::string name;  // soname, the file name under lib/
  std::string data;
};

struct CompileResult {
  Handler handler;
  std::string shared_object;              // the bytes of <module>.so
  std::vector<BundledLibrary> libraries;  // sorted by name; to ship in lib/ beside the .so
  std::string source_digest;
  double seconds = 0;  // wall time of the compile and bundling
};

// Compiles the sources the way kubefn_function() does (C++20, -O2, PIC, hidden visibility, the
// SDK headers), deterministically: the same request gives the same bytes. Fails with a short
// "file:line:col: error: ..." summary (StatusCode::kInvalid) when the code does not compile, or
// when the result does not export the handler; with kCancelled when request.cancel ended it.
kube::Result<CompileResult> compile_function(const CompileRequest& request);

// Writes <dir>/<module>.so and <dir>/lib/<soname> for each bundled library.
kube::Status write_function_dir(const CompileResult& result, const std::string& dir);

}  // namespace kubefn::builder
