#include "kubefn/builder/compile.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "file_bytes.hpp"
#include "kubefn/builder/dependencies.hpp"
#include "kubefn/builder/diagnostics.hpp"
#include "kubefn/builder/elf.hpp"
#include "kubefn/builder/process.hpp"
#include "temp_directory.hpp"

namespace kubefn::builder {

namespace fs = std::filesystem;
using kube::Status;
using kube::StatusCode;

namespace {

bool is_identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool is_module_name(std::string_view s) {
  if (s.empty() || s[0] == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool write_bytes(const fs::path& p, std::string_view data) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

}  // namespace

kube::Result<Handler> parse_handler(std::string_view handler) {
  auto dot = handler.find('.');
  if (dot == std::string_view::npos || handler.find('.', dot + 1) != std::string_view::npos) {
    return Status(StatusCode::kInvalid, "handler \"" + std::string(handler) +
                                            "\" must be <module>.<function>, e.g. hello.greet");
  }
  Handler h{std::string(handler.substr(0, dot)), std::string(handler.substr(dot + 1))};
  if (!is_module_name(h.module)) {
    return Status(StatusCode::kInvalid,
                  "module name \"" + h.module + "\" may hold only letters, digits, '_' and '-'");
  }
  if (!is_identifier(h.function)) {
    return Status(StatusCode::kInvalid,
                  "function name \"" + h.function + "\" is not a C++ identifier");
  }
  return h;
}

std::string default_sdk_include() {
  std::error_code ec;
  if (fs::exists(fs::path(KUBEFN_SDK_INCLUDE_DIR) / "kubefn/function.hpp", ec)) {
    return KUBEFN_SDK_INCLUDE_DIR;
  }
  return "/usr/local/include";
}

kube::Result<CompileResult> compile_function(const CompileRequest& request) {
  auto started = std::chrono::steady_clock::now();
  auto handler = parse_handler(request.handler);
  if (!handler.ok()) return handler.status();
  auto units = request.sources.translation_units();
  if (units.empty()) {
    return Status(StatusCode::kInvalid, "the source has no .cpp, .cc or .cxx file to compile");
  }
  std::string sdk = request.sdk_include.empty() ? default_sdk_include() : request.sdk_include;
  std::error_code ec;
  if (!fs::exists(fs::path(sdk) / "kubefn/function.hpp", ec)) {
    return Status(StatusCode::kInvalidConfig,
                  "the kubefn SDK header is not at " + sdk + "/kubefn/function.hpp");
  }

  kube::Status deps = ensure_packages(request.dependencies, request.install_dependencies);
  if (!deps.ok()) return deps;
  std::vector<std::string> cflags;
  std::vector<std::string> libs;
  for (const auto& pkg : request.dependencies) {
    auto f = dependency_flags(pkg);
    if (!f.ok()) return f.status();
    cflags.insert(cflags.end(), f->cflags.begin(), f->cflags.end());
    libs.insert(libs.end(), f->libs.begin(), f->libs.end());
  }

  CompileResult result;
  result.handler = *handler;
  result.source_digest =
      request.source_digest.empty() ? source_digest(request.sources) : request.source_digest;

  TempDirectory tmp("kubefn-build");
  if (!tmp.ok()) return Status(StatusCode::kInternalError, "cannot create a temporary directory");
  fs::path src = tmp.path() / "src";
  fs::path out = tmp.path() / "out" / (handler->module + ".so");
  fs::create_directories(out.parent_path(), ec);
  for (const auto& f : request.sources.files) {
    if (f.path.starts_with("/") || f.path.find("..") != std::string::npos) {
      return Status(StatusCode::kInvalid, "source path \"" + f.path + "\" leaves the source tree");
    }
    if (!write_bytes(src / f.path, f.data)) {
      return Status(StatusCode::kInternalError,
                    "cannot write " + f.path + " to a temporary directory");
    }
  }

  // The digest seeds GCC's random names; the temp dir never reaches the output.
  std::string hex = result.source_digest.substr(result.source_digest.find(':') + 1);
  std::vector<std::string> argv = {request.compiler,
                                   "-std=c++20",
                                   "-O2",
                                   "-fPIC",
                                   "-shared",
                                   "-fvisibility=hidden",
                                   "-fvisibility-inlines-hidden",
                                   "-pipe",
                                   "-ffile-prefix-map=" + src.string() + "=.",
                                   "-ffile-prefix-map=" + tmp.path().string() + "=.",
                                   "-frandom-seed=" + hex.substr(0, 16),
                                   "-I" + sdk,
                                   "-I."};
  argv.insert(argv.end(), cflags.begin(), cflags.end());
  argv.insert(argv.end(), units.begin(), units.end());
  argv.insert(argv.end(),
              {"-o", out.string(), "-Wl,-z,defs", "-Wl,-rpath,$ORIGIN/lib", "-Wl,--build-id=sha1"});
  argv.insert(argv.end(), libs.begin(), libs.end());
  auto cc = run_process(argv, src.string(), {"SOURCE_DATE_EPOCH=0", "LC_ALL=C"}, request.cancel);
  if (request.cancel != nullptr && request.cancel->cancelled()) {
    return Status(StatusCode::kCancelled, "the build was cancelled");
  }
  if (cc.exit_code != 0) {
    if (cc.exit_code == 127) {
      return Status(StatusCode::kInvalidConfig, "cannot run the compiler " + request.compiler);
    }
    return Status(
        StatusCode::kInvalid,
        "compile failed:\n" + summarize_compiler_errors(
                                  cc.err + cc.out, {src.string(), tmp.path().string()}, 5, 1000));
  }
  if (!read_bytes(out, result.shared_object)) {
    return Status(StatusCode::kInternalError, "the compiler wrote no " + out.filename().string());
  }
  auto elf = read_elf(result.shared_object);
  if (!elf.ok()) return elf.status();
  std::string symbol = "kubefn_handler_" + handler->function;
  if (std::find(elf->defined_symbols.begin(), elf->defined_symbols.end(), symbol) ==
      elf->defined_symbols.end()) {
    std::string found;
    for (const auto& s : elf->defined_symbols) {
      if (s.starts_with("kubefn_handler_")) found += (found.empty() ? "" : ", ") + s.substr(15);
    }
    return Status(StatusCode::kInvalid,
                  handler->module + ".so has no handler \"" + handler->function +
                      "\": the source must contain KUBEFN_HANDLER(" + handler->function + ")" +
                      (found.empty() ? std::string() : " (it has: " + found + ")"));
  }

  if (request.provided_libraries) {
    auto libraries = resolve_libraries(out.string());
    if (!libraries.ok()) return libraries.status();
    for (const auto& lib : *libraries) {
      if (!lib.found) {
        return Status(StatusCode::kInvalid, "library " + lib.name + " needed by " +
                                                out.filename().string() + " is not installed");
      }
      if (lib.path.empty()) continue;  // the vDSO
      std::string name = fs::path(lib.name).filename().string();
      if (request.provided_libraries->count(name) || request.provided_libraries->count(lib.name)) {
        continue;
      }
      if (name.starts_with("ld-linux")) continue;  // the base image's dynamic loader
      BundledLibrary b{name, {}};
      if (!read_bytes(lib.path, b.data)) {
        return Status(StatusCode::kInternalError, "cannot read library " + lib.path);
      }
      result.libraries.push_back(std::move(b));
    }
    std::sort(result.libraries.begin(), result.libraries.end(),
              [](const BundledLibrary& a, const BundledLibrary& b) { return a.name < b.name; });
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

kube::Status write_function_dir(const CompileResult& result, const std::string& dir) {
  fs::path d(dir);
  if (!write_bytes(d / (result.handler.module + ".so"), result.shared_object)) {
    return Status(StatusCode::kInternalError,
                  "cannot write " + (d / result.handler.module).string() + ".so");
  }
  for (const auto& lib : result.libraries) {
    if (!write_bytes(d / "lib" / lib.name, lib.data)) {
      return Status(StatusCode::kInternalError, "cannot write " + (d / "lib" / lib.name).string());
    }
  }
  return {};
}

}  // namespace kubefn::builder
