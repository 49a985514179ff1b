#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/builder/compile.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/oci/tar.hpp"

namespace kubefn::builder {

// Labels kubefn-build writes into image configs.
inline constexpr std::string_view kLabelSourceDigest = "dev.kubefn.source-digest";
inline constexpr std::string_view kLabelSdkVersion = "dev.kubefn.sdk-version";
inline constexpr std::string_view kLabelHandler = "dev.kubefn.handler";
inline constexpr std::string_view kLabelBaseDigest = "dev.kubefn.base-digest";
inline constexpr std::string_view kLabelDependencies = "dev.kubefn.dependencies";
// On the runtime base image: the sonames it carries, comma-separated. Function builds bundle
// every library their .so needs that is not in this list.
inline constexpr std::string_view kLabelLibraries = "dev.kubefn.libraries";

inline constexpr std::string_view kFunctionDir = "/kubefn";
inline constexpr std::string_view kRuntimePath = "/usr/local/bin/kubefn-runtime";
inline constexpr std::string_view kRuntimeUser = "65532:65532";
// The load-report plugin's file name: kubefn-runtime opens it from its own directory when
// KUBEFN_STATS_ADDRESS is set, so the base image holds it beside the runtime.
inline constexpr std::string_view kStatsPluginFile = "kubefn_runtime_stats.so";
inline constexpr std::string_view kStatsPluginPath = "/usr/local/bin/kubefn_runtime_stats.so";

struct RegistrySettings {
  bool plain_http = false;      // http:// (always for localhost and 127.*)
  std::string registry_config;  // docker config.json with credentials; empty: the usual places
};

struct FunctionImageRequest {
  CompileRequest compile;  // sources, handler, dependencies; provided_libraries comes from
                           // the base image
  std::string base;        // runtime base image reference
  std::string image;       // target repository, optionally with a tag
  std::string tag;         // overrides the reference's tag; default src-<16 hex of digest>
  RegistrySettings registry;
};

struct FunctionImageResult {
  std::string image;  // registry/repository@sha256:...
  std::string digest;
  std::string tag;
  std::string source_digest;
  bool cached = false;  // the tag already held this source on this base
  int uploaded = 0, existed = 0, mounted = 0;
  std::int64_t bytes_sent = 0;
  std::vector<std::string> bundled_libraries;
  double seconds = 0;
};

// Builds the function image and pushes it, or (fast path) finds it already pushed.
kube::Result<FunctionImageResult> build_function_image(const FunctionImageRequest& request);

// The files of a function image's layer: kubefn/<module>.so and kubefn/lib/<soname>.
std::vector<oci::TarEntry> function_layer_entries(const CompileResult& compiled);

// The default tag for a source digest: "src-" and its first 16 hex digits.
std::string default_tag(const std::string& source_digest);

struct BaseImageRequest {
  std::string runtime_path;  // the kubefn-runtime binary
  // The load-report plugin to put beside the runtime (with the libraries it needs that the
  // runtime does not); empty: a minimal base without it, whose replicas do not report load.
  // default_stats_plugin() gives the usual one.
  std::string stats_plugin_path;
  std::string image;  // target reference
  RegistrySettings registry;
  bool strip_debug = true;  // strip debug sections off the runtime binary and the plugin
};

// The plugin built beside `runtime_path` (kubefn_runtime_stats.so in the same directory), or
// empty when there is none.
std::string default_stats_plugin(const std::string& runtime_path);

struct BaseImageResult {
  std::string image;  // registry/repository@sha256:...
  std::string digest;
  std::vector<std::string> libraries;  // sonames in the image
  std::string stats_plugin;            // where the image holds the plugin; empty: it does not
  std::int64_t compressed_bytes = 0;   // the layer blob
  int uploaded = 0, existed = 0;
  double seconds = 0;
};

// An image of one program from this machine's files (the platform's own components, e.g.
// kubefn-operator and kubefn-gateway): the binary at /usr/local/bin/<its name>, its libraries
// and dynamic loader, CA certificates, passwd/group with the unprivileged user (65532, the
// image's user), /tmp; the entrypoint is the binary. A statically linked binary brings no
// libraries. `bare` (static binaries only, e.g. kubefn-pause): the image is the binary alone,
// with no user, environment or working directory.
struct ProgramImageRequest {
  std::string binary_path;
  std::string image;          // target reference
  std::string path_in_image;  // where the image holds it; empty: /usr/local/bin/<its name>
  bool bare = false;
  RegistrySettings registry;
  bool strip_debug = true;
};
kube::Result<BaseImageResult> build_program_image(const ProgramImageRequest& request);

// The runtime base image's one layer, from this machine's files: the runtime, its libraries and
// dynamic loader (with the symlinks that lead to them), CA certificates, passwd/group with the
// unprivileged user, /tmp and /kubefn; with a `stats_plugin_path`, also the plugin beside the
// runtime and the libraries it needs. `libraries` receives the sonames of both closures, sorted.
kube::Result<std::vector<oci::TarEntry>> base_layer_entries(const std::string& runtime_path,
                                                            const std::string& stats_plugin_path,
                                                            bool strip_debug,
                                                            std::vector<std::string>* libraries);
// The same without the plugin.
kube::Result<std::vector<oci::TarEntry>> base_layer_entries(const std::string& runtime_path,
                                                            bool strip_debug,
                                                            std::vector<std::string>* libraries);

kube::Result<BaseImageResult> build_base_image(const BaseImageRequest& request);

// JSON documents kubefn-build prints and writes to the termination log (at most 4 KiB).
std::string function_result_json(const FunctionImageResult& result);
std::string base_result_json(const BaseImageResult& result);
std::string error_json(const std::string& message);
// Writes `json` to `path` (e.g. /dev/termination-log); false when it cannot.
bool write_termination_log(const std::string& path, const std::string& json);

}  // namespace kubefn::builder
