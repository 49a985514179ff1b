#include "kubefn/builder/image_build.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "binary_bytes.hpp"
#include "file_bytes.hpp"
#include "kubefn/builder/elf.hpp"
#include "kubefn/builder/process.hpp"
#include "kubefn/function.hpp"
#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/image.hpp"
#include "kubefn/oci/reference.hpp"
#include "kubefn/oci/registry.hpp"
#include "temp_directory.hpp"

namespace kubefn::builder {

namespace fs = std::filesystem;
using kube::Status;
using kube::StatusCode;
using oci::TarEntry;

namespace {

constexpr std::string_view kSdkVersion = kubefn::kSdkVersion;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

kube::Result<oci::RegistryOptions> registry_options(const RegistrySettings& settings) {
  oci::RegistryOptions options;
  options.plain_http = settings.plain_http;
  auto creds = oci::CredentialStore::load(settings.registry_config);
  if (!creds.ok()) return creds.status();
  options.credentials = std::move(*creds);
  return options;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

struct BaseImage {
  oci::Manifest manifest;
  oci::ImageConfig config;
  std::string digest;
};

kube::Result<BaseImage> fetch_base(oci::RegistryClient& client, const oci::ImageReference& ref) {
  // A digest pins the base even when a tag is given too.
  auto fetched =
      client.get_manifest(ref.repository, ref.digest.empty() ? ref.reference() : ref.digest);
  if (!fetched.ok()) return fetched.status();
  auto manifest = oci::parse_manifest(fetched->bytes);
  if (!manifest.ok()) return manifest.status();
  auto config_blob = client.get_blob(ref.repository, manifest->config.digest);
  if (!config_blob.ok()) return config_blob.status();
  auto config = oci::ImageConfig::parse(*config_blob);
  if (!config.ok()) return config.status();
  return BaseImage{std::move(*manifest), std::move(*config), fetched->digest};
}

// Replicates host path `path` in `entries`: every directory on the way, every symlink followed
// (and kept as a symlink), and the regular file at the end.
Status add_host_path(std::map<std::string, TarEntry>& entries, const std::string& path,
                     int depth = 0) {
  if (depth > 16) return Status(StatusCode::kInvalid, "too many symlinks resolving " + path);
  fs::path p = fs::path(path).lexically_normal();
  fs::path current = "/";
  std::vector<fs::path> parts(++p.begin(), p.end());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    current /= parts[i];
    std::string rel = current.relative_path().generic_string();
    struct stat st {};
    if (lstat(current.c_str(), &st) != 0) {
      return Status(StatusCode::kNotFound, "cannot find " + current.string());
    }
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::path target = fs::read_symlink(current, ec);
      if (ec) return Status(StatusCode::kInternalError, "cannot read link " + current.string());
      TarEntry e;
      e.path = rel;
      e.type = TarEntry::Type::kSymlink;
      e.link_target = target.string();
      e.mode = 0777;
      entries[rel] = e;
      fs::path resolved = target.is_absolute() ? target : current.parent_path() / target;
      for (std::size_t j = i + 1; j < parts.size(); ++j)
        resolved /= parts[j];
      return add_host_path(entries, resolved.lexically_normal().string(), depth + 1);
    }
    if (S_ISDIR(st.st_mode)) {
      if (!entries.count(rel)) {
        TarEntry e;
        e.path = rel;
        e.type = TarEntry::Type::kDirectory;
        e.mode = 0755;
        entries[rel] = e;
      }
      continue;
    }
    if (!S_ISREG(st.st_mode) || i + 1 != parts.size()) {
      return Status(StatusCode::kInvalid, current.string() + " is not a regular file");
    }
    TarEntry e;
    e.path = rel;
    e.mode = (st.st_mode & 0111) ? 0755 : 0644;
    if (!read_bytes(current, e.data)) {
      return Status(StatusCode::kInternalError, "cannot read " + current.string());
    }
    entries[rel] = std::move(e);
  }
  return {};
}

void add_directory(std::map<std::string, TarEntry>& entries, const std::string& path,
                   std::uint32_t mode) {
  if (path.empty()) return;  // the image's root: no entry of its own
  fs::path p(path);
  std::string prefix;
  for (const auto& part : p) {
    prefix += (prefix.empty() ? "" : "/") + part.string();
    if (entries.count(prefix)) continue;
    TarEntry e;
    e.path = prefix;
    e.type = TarEntry::Type::kDirectory;
    e.mode = 0755;
    entries[prefix] = e;
  }
  entries[path].mode = mode;
}

void add_file(std::map<std::string, TarEntry>& entries, const std::string& path, std::string data,
              std::uint32_t mode) {
  add_directory(entries, fs::path(path).parent_path().string(), 0755);
  TarEntry e;
  e.path = path;
  e.data = std::move(data);
  e.mode = mode;
  entries[path] = std::move(e);
}

}  // namespace

std::string default_tag(const std::string& source_digest) {
  auto colon = source_digest.find(':');
  std::string hex = colon == std::string::npos ? source_digest : source_digest.substr(colon + 1);
  return "src-" + hex.substr(0, 16);
}

std::vector<TarEntry> function_layer_entries(const CompileResult& compiled) {
  std::vector<TarEntry> entries;
  TarEntry dir;
  dir.path = "kubefn";
  dir.type = TarEntry::Type::kDirectory;
  dir.mode = 0755;
  entries.push_back(dir);
  TarEntry so;
  so.path = "kubefn/" + compiled.handler.module + ".so";
  so.data = compiled.shared_object;
  so.mode = 0644;
  entries.push_back(so);
  if (!compiled.libraries.empty()) {
    dir.path = "kubefn/lib";
    entries.push_back(dir);
    for (const auto& lib : compiled.libraries) {
      TarEntry e;
      e.path = "kubefn/lib/" + lib.name;
      e.data = lib.data;
      e.mode = 0644;
      entries.push_back(std::move(e));
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const TarEntry& a, const TarEntry& b) { return a.path < b.path; });
  return entries;
}

kube::Result<FunctionImageResult> build_function_image(const FunctionImageRequest& request) {
  auto started = std::chrono::steady_clock::now();
  auto handler = parse_handler(request.compile.handler);
  if (!handler.ok()) return handler.status();
  auto target = oci::parse_reference(request.image);
  if (!target.ok()) return Status(StatusCode::kInvalid, "--image: " + target.status().message());
  auto base_ref = oci::parse_reference(request.base);
  if (!base_ref.ok()) return Status(StatusCode::kInvalid, "--base: " + base_ref.status().message());

  FunctionImageResult result;
  result.source_digest = request.compile.source_digest.empty()
                             ? source_digest(request.compile.sources)
                             : request.compile.source_digest;
  target->digest.clear();
  if (!request.tag.empty()) target->tag = request.tag;
  if (target->tag.empty()) target->tag = default_tag(result.source_digest);
  result.tag = target->tag;

  auto options = registry_options(request.registry);
  if (!options.ok()) return options.status();
  oci::RegistryClient client(target->registry, *options);
  std::optional<oci::RegistryClient> other_base_client;
  const bool same_registry = base_ref->registry == target->registry;
  if (!same_registry) other_base_client.emplace(base_ref->registry, *options);
  oci::RegistryClient& base_client = same_registry ? client : *other_base_client;

  std::vector<std::string> deps = request.compile.dependencies;
  std::sort(deps.begin(), deps.end());
  const std::string deps_label = join(deps, ",");

  // The base digest: given, or what its reference names now.
  std::string base_digest = base_ref->digest;
  if (base_digest.empty()) {
    auto head = base_client.manifest_digest(base_ref->repository, base_ref->reference());
    if (!head.ok()) return head.status();
    if (!head->has_value()) {
      return Status(StatusCode::kNotFound, "base image " + request.base + " does not exist");
    }
    base_digest = **head;
  }

  // Fast path: the tag already holds this source on this base (one GET of the manifest and one
  // of its config; no HEAD first, a missing tag is simply a 404).
  auto existing = client.get_manifest(target->repository, target->tag, false);
  if (!existing.ok() && !existing.status().is_not_found()) return existing.status();
  if (existing.ok()) {
    auto manifest = oci::parse_manifest(existing->bytes);
    if (manifest.ok()) {
      auto blob = client.get_blob(target->repository, manifest->config.digest);
      auto config = blob.ok() ? oci::ImageConfig::parse(*blob)
                              : kube::Result<oci::ImageConfig>(blob.status());
      if (config.ok() && config->label(std::string(kLabelSourceDigest)) == result.source_digest &&
          config->label(std::string(kLabelBaseDigest)) == base_digest &&
          config->label(std::string(kLabelHandler)) == request.compile.handler &&
          config->label(std::string(kLabelDependencies)).value_or("") == deps_label &&
          config->label(std::string(kLabelSdkVersion)) == std::string(kSdkVersion)) {
        result.cached = true;
        result.digest = existing->digest;
        result.image = target->with_digest(result.digest);
        result.seconds = seconds_since(started);
        return result;
      }
    }
  }

  auto base = fetch_base(base_client, *base_ref);
  if (!base.ok()) return base.status();
  CompileRequest compile = request.compile;
  compile.source_digest = result.source_digest;
  std::set<std::string> provided;
  for (const auto& name : split(base->config.label(std::string(kLabelLibraries)).value_or(""), ','))
    provided.insert(name);
  compile.provided_libraries = provided;
  auto compiled = compile_function(compile);
  if (!compiled.ok()) return compiled.status();
  for (const auto& lib : compiled->libraries)
    result.bundled_libraries.push_back(lib.name);

  oci::Layer layer = oci::make_layer(function_layer_entries(*compiled));
  oci::ImageConfig config = base->config;
  config.set_env("FUNC_HANDLER", request.compile.handler);
  if (!compiled->libraries.empty()) {
    // Bundled libraries may need each other; the .so's own RUNPATH covers only its direct needs.
    config.set_env("LD_LIBRARY_PATH", std::string(kFunctionDir) + "/lib");
  }
  config.set_label(std::string(kLabelSourceDigest), result.source_digest);
  config.set_label(std::string(kLabelSdkVersion), std::string(kSdkVersion));
  config.set_label(std::string(kLabelHandler), request.compile.handler);
  config.set_label(std::string(kLabelBaseDigest), base_digest);
  config.set_label(std::string(kLabelDependencies), deps_label);
  auto appended = oci::append_layer(base->manifest, config, layer,
                                    "kubefn-build function " + request.compile.handler);

  // Base layers: present already, mounted from the base repository, or copied over.
  int existed_before = 0;
  for (const auto& d : base->manifest.layers) {
    if (same_registry && base_ref->repository == target->repository) break;
    auto exists = client.blob_exists(target->repository, d.digest);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      ++existed_before;
      continue;
    }
    auto bytes = base_client.get_blob(base_ref->repository, d.digest);
    if (!bytes.ok()) return bytes.status();
    auto pushed = client.push_blob(target->repository, *bytes, d.digest,
                                   same_registry ? base_ref->repository : "");
    if (!pushed.ok()) return pushed.status();
  }
  std::vector<std::pair<oci::Descriptor, std::string>> blobs = {
      {layer.descriptor, layer.blob}, {appended.manifest.config, appended.config_blob}};
  auto pushed = oci::push_image(client, *target, blobs, appended.manifest);
  if (!pushed.ok()) return pushed.status();
  const auto& stats = client.stats();
  result.uploaded = stats.uploaded;
  result.existed = stats.existed + existed_before;
  result.mounted = stats.mounted;
  result.bytes_sent = stats.bytes_sent;
  result.image = *pushed;
  result.digest = pushed->substr(pushed->find('@') + 1);
  result.seconds = seconds_since(started);
  return result;
}

// The bytes of an ELF file for an image: with `strip_debug`, its copy without debug sections
// (strip writes the same bytes for the same input, so the layer stays reproducible).
Status read_binary(const std::string& path, bool strip_debug, const std::string& what,
                   std::string& out) {
  if (!strip_debug) {
    if (!read_bytes(path, out)) return Status(StatusCode::kNotFound, "cannot read " + what + path);
    return {};
  }
  TempDirectory tmp("kubefn-base");
  if (!tmp.ok()) return Status(StatusCode::kInternalError, "cannot create a temporary directory");
  fs::path stripped = tmp.path() / fs::path(path).filename();
  auto r = run_process({"strip", "--strip-debug", "-o", stripped.string(), path});
  if (r.exit_code != 0) {
    return Status(StatusCode::kInvalid, "cannot strip " + path + ": " + r.err.substr(0, 300));
  }
  if (!read_bytes(stripped, out)) {
    return Status(StatusCode::kInternalError, "cannot read the stripped copy of " + path);
  }
  return {};
}

namespace {

// Adds the libraries `file` loads (ldd, transitively) to `entries`, with the links leading to
// them, and their sonames to `sonames`. One already there is simply there once.
Status add_library_closure(std::map<std::string, TarEntry>& entries, const std::string& file,
                           const std::string& what, std::vector<std::string>& sonames) {
  auto libs = resolve_libraries(file);
  if (!libs.ok()) return libs.status();
  for (const auto& lib : *libs) {
    if (!lib.found) {
      return Status(StatusCode::kInvalid,
                    "library " + lib.name + " of " + what + " is not installed");
    }
    if (lib.path.empty()) continue;  // the vDSO
    auto s = add_host_path(entries, lib.path);
    if (!s.ok()) return s;
    sonames.push_back(fs::path(lib.name).filename().string());
  }
  return {};
}

// What every image from this machine's files holds besides its programs: CA certificates,
// passwd/group with the unprivileged user, and /tmp.
Status add_system_files(std::map<std::string, TarEntry>& entries) {
  std::string certs;
  if (!read_bytes("/etc/ssl/certs/ca-certificates.crt", certs)) {
    return Status(StatusCode::kNotFound,
                  "/etc/ssl/certs/ca-certificates.crt is missing (install ca-certificates)");
  }
  add_file(entries, "etc/ssl/certs/ca-certificates.crt", std::move(certs), 0644);
  add_file(entries, "etc/passwd",
           "root:x:0:0:root:/root:/usr/sbin/nologin\n"
           "kubefn:x:65532:65532:kubefn:/kubefn:/usr/sbin/nologin\n",
           0644);
  add_file(entries, "etc/group", "root:x:0:\nkubefn:x:65532:\n", 0644);
  add_directory(entries, "tmp", 01777);
  return {};
}

// An ELF program with its library closure and loader.
Status add_program(std::map<std::string, TarEntry>& entries, const std::string& path,
                   const std::string& in_image, bool strip_debug, const std::string& what,
                   std::vector<std::string>& sonames) {
  std::string bytes;
  auto read = read_binary(path, strip_debug, what + " ", bytes);
  if (!read.ok()) return read;
  auto elf = read_elf(bytes);
  if (!elf.ok()) return Status(StatusCode::kInvalid, path + ": " + elf.status().message());
  // A statically linked program loads nothing (and ldd refuses it).
  if (!elf->interpreter.empty() || !elf->needed.empty()) {
    auto closure = add_library_closure(entries, path, what, sonames);
    if (!closure.ok()) return closure;
  }
  if (!elf->interpreter.empty()) {
    auto s = add_host_path(entries, elf->interpreter);
    if (!s.ok()) return s;
  }
  add_file(entries, in_image.substr(1), std::move(bytes), 0755);
  return {};
}

// Pushes a one-layer image and fills the result's image, digest and upload counts.
Status push_one_layer(const RegistrySettings& registry, const oci::ImageReference& target,
                      const oci::Layer& layer, const oci::ImageConfig& config,
                      const std::string& created_by, BaseImageResult& result) {
  auto appended = oci::append_layer(oci::scratch_manifest(), config, layer, created_by);
  auto options = registry_options(registry);
  if (!options.ok()) return options.status();
  oci::RegistryClient client(target.registry, *options);
  oci::ImageReference ref = target;
  ref.digest.clear();
  if (ref.tag.empty()) ref.tag = "latest";
  std::vector<std::pair<oci::Descriptor, std::string>> blobs = {
      {layer.descriptor, layer.blob}, {appended.manifest.config, appended.config_blob}};
  auto pushed = oci::push_image(client, ref, blobs, appended.manifest);
  if (!pushed.ok()) return pushed.status();
  result.image = *pushed;
  result.digest = pushed->substr(pushed->find('@') + 1);
  result.uploaded = client.stats().uploaded;
  result.existed = client.stats().existed;
  return {};
}

}  // namespace

std::string default_stats_plugin(const std::string& runtime_path) {
  fs::path plugin = fs::path(runtime_path).parent_path() / kStatsPluginFile;
  std::error_code ec;
  return fs::is_regular_file(plugin, ec) ? plugin.string() : std::string();
}

kube::Result<std::vector<TarEntry>> base_layer_entries(const std::string& runtime_path,
                                                       bool strip_debug,
                                                       std::vector<std::string>* libraries) {
  return base_layer_entries(runtime_path, "", strip_debug, libraries);
}

kube::Result<std::vector<TarEntry>> base_layer_entries(const std::string& runtime_path,
                                                       const std::string& stats_plugin_path,
                                                       bool strip_debug,
                                                       std::vector<std::string>* libraries) {
  std::map<std::string, TarEntry> entries;
  std::vector<std::string> sonames;
  auto added = add_program(entries, runtime_path, std::string(kRuntimePath), strip_debug,
                           "the runtime", sonames);
  if (!added.ok()) return added;

  // The load-report plugin beside the runtime, where the runtime looks for it, and whatever
  // its gRPC closure adds to the runtime's.
  std::string plugin;
  if (!stats_plugin_path.empty()) {
    auto read = read_binary(stats_plugin_path, strip_debug, "the stats plugin ", plugin);
    if (!read.ok()) return read;
    auto plugin_elf = read_elf(plugin);
    if (!plugin_elf.ok()) {
      return Status(StatusCode::kInvalid, stats_plugin_path + ": " + plugin_elf.status().message());
    }
    auto closure = add_library_closure(entries, stats_plugin_path, "the stats plugin", sonames);
    if (!closure.ok()) return closure;
  }
  std::sort(sonames.begin(), sonames.end());
  sonames.erase(std::unique(sonames.begin(), sonames.end()), sonames.end());

  auto system = add_system_files(entries);
  if (!system.ok()) return system;
  if (!stats_plugin_path.empty()) {
    add_file(entries, std::string(kStatsPluginPath).substr(1), std::move(plugin), 0644);
  }
  add_directory(entries, std::string(kFunctionDir).substr(1), 0755);

  std::vector<TarEntry> out;
  out.reserve(entries.size());
  for (auto& [path, e] : entries)
    out.push_back(std::move(e));
  if (libraries) *libraries = std::move(sonames);
  return out;
}

kube::Result<BaseImageResult> build_base_image(const BaseImageRequest& request) {
  auto started = std::chrono::steady_clock::now();
  auto target = oci::parse_reference(request.image);
  if (!target.ok()) return Status(StatusCode::kInvalid, "--image: " + target.status().message());
  BaseImageResult result;
  auto entries = base_layer_entries(request.runtime_path, request.stats_plugin_path,
                                    request.strip_debug, &result.libraries);
  if (!entries.ok()) return entries.status();
  if (!request.stats_plugin_path.empty()) result.stats_plugin = std::string(kStatsPluginPath);
  oci::Layer layer = oci::make_layer(*entries);
  result.compressed_bytes = layer.descriptor.size;

  oci::ImageConfig config = oci::ImageConfig::for_platform();
  config.set_user(std::string(kRuntimeUser));
  config.set_entrypoint({std::string(kRuntimePath)});
  config.set_env("PATH", "/usr/local/bin:/usr/bin:/bin");
  config.set_env("KUBEFN_FUNCTION_DIR", std::string(kFunctionDir));
  config.set_env("FUNC_PORT", "8080");
  config.set_working_dir(std::string(kFunctionDir));
  config.add_exposed_port("8080/tcp");
  config.set_label(std::string(kLabelLibraries), join(result.libraries, ","));
  config.set_label(std::string(kLabelSdkVersion), std::string(kSdkVersion));
  auto pushed =
      push_one_layer(request.registry, *target, layer, config, "kubefn-build base", result);
  if (!pushed.ok()) return pushed;
  result.seconds = seconds_since(started);
  return result;
}

namespace {

// The image of a static program alone: the one file, its entrypoint, nothing else.
kube::Result<BaseImageResult> build_bare_program_image(
    const ProgramImageRequest& request, const oci::ImageReference& target,
    const std::string& in_image, std::chrono::steady_clock::time_point started) {
  const std::string name = fs::path(request.binary_path).filename().string();
  std::string bytes;
  auto read = read_binary(request.binary_path, request.strip_debug, "program ", bytes);
  if (!read.ok()) return read;
  auto elf = read_elf(bytes);
  if (!elf.ok()) {
    return Status(StatusCode::kInvalid, request.binary_path + ": " + elf.status().message());
  }
  if (!elf->interpreter.empty() || !elf->needed.empty()) {
    std::string needs = elf->needed.empty() ? elf->interpreter : join(elf->needed, ", ");
    return Status(StatusCode::kInvalid, request.binary_path +
                                            " is not statically linked (it needs " + needs +
                                            "): --bare takes static programs only");
  }
  std::map<std::string, TarEntry> entries;
  add_file(entries, in_image.substr(1), std::move(bytes), 0755);
  std::vector<TarEntry> layer_entries;
  for (auto& [path, e] : entries)
    layer_entries.push_back(std::move(e));
  oci::Layer layer = oci::make_layer(layer_entries);
  BaseImageResult result;
  result.compressed_bytes = layer.descriptor.size;
  oci::ImageConfig config = oci::ImageConfig::for_platform();
  config.set_entrypoint({in_image});
  auto pushed = push_one_layer(request.registry, target, layer, config,
                               "kubefn-build program --bare " + name, result);
  if (!pushed.ok()) return pushed;
  result.seconds = seconds_since(started);
  return result;
}

}  // namespace

kube::Result<BaseImageResult> build_program_image(const ProgramImageRequest& request) {
  auto started = std::chrono::steady_clock::now();
  auto target = oci::parse_reference(request.image);
  if (!target.ok()) return Status(StatusCode::kInvalid, "--image: " + target.status().message());
  const std::string name = fs::path(request.binary_path).filename().string();
  const std::string in_image =
      request.path_in_image.empty() ? "/usr/local/bin/" + name : request.path_in_image;
  if (!in_image.starts_with("/") || in_image.ends_with("/") ||
      fs::path(in_image).lexically_normal().string() != in_image) {
    return Status(StatusCode::kInvalid,
                  "--path: \"" + in_image + "\" is not an absolute, normal file path");
  }
  if (request.bare) return build_bare_program_image(request, *target, in_image, started);
  std::map<std::string, TarEntry> entries;
  BaseImageResult result;
  auto added = add_program(entries, request.binary_path, in_image, request.strip_debug,
                           "program " + name, result.libraries);
  if (!added.ok()) return added;
  auto system = add_system_files(entries);
  if (!system.ok()) return system;
  std::sort(result.libraries.begin(), result.libraries.end());
  result.libraries.erase(std::unique(result.libraries.begin(), result.libraries.end()),
                         result.libraries.end());
  std::vector<TarEntry> layer_entries;
  for (auto& [path, e] : entries)
    layer_entries.push_back(std::move(e));
  oci::Layer layer = oci::make_layer(layer_entries);
  result.compressed_bytes = layer.descriptor.size;

  oci::ImageConfig config = oci::ImageConfig::for_platform();
  config.set_user(std::string(kRuntimeUser));
  config.set_entrypoint({in_image});
  config.set_env("PATH", "/usr/local/bin:/usr/bin:/bin");
  config.set_working_dir("/tmp");
  config.set_label(std::string(kLabelLibraries), join(result.libraries, ","));
  config.set_label(std::string(kLabelSdkVersion), std::string(kSdkVersion));
  auto pushed = push_one_layer(request.registry, *target, layer, config,
                               "kubefn-build program " + name, result);
  if (!pushed.ok()) return pushed;
  result.seconds = seconds_since(started);
  return result;
}

}  // namespace kubefn::builder
