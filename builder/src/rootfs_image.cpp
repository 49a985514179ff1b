#include "kubefn/builder/rootfs_image.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "binary_bytes.hpp"
#include "file_bytes.hpp"
#include "kubefn/builder/elf.hpp"
#include "kubefn/oci/digest.hpp"
#include "kubefn/oci/reference.hpp"
#include "kubefn/oci/registry.hpp"
#include "temp_directory.hpp"

namespace kubefn::builder {

namespace fs = std::filesystem;
using kube::Status;
using kube::StatusCode;
using oci::TarEntry;

namespace {

// Changes to how a tree becomes a layer change this, and with it every cache key.
constexpr std::string_view kTreeLayerFormat = "kubefn-tree-layer-v1 tar gzip-6";

std::string join_path(const std::string& prefix, const std::string& rel) {
  if (prefix.empty()) return rel;
  if (rel.empty()) return prefix;
  return prefix + "/" + rel;
}

// "usr/local/bin" for "/usr/local/bin/"; empty for "/".
std::string image_relative(const std::string& path) {
  std::string rel = fs::path(path).lexically_normal().generic_string();
  while (!rel.empty() && rel.front() == '/')
    rel.erase(0, 1);
  while (!rel.empty() && rel.back() == '/')
    rel.pop_back();
  return rel;
}

Status walk(const fs::path& dir, const std::string& rel, const TreeOptions& options, Tree& tree) {
  std::error_code ec;
  const auto cannot_list = [&] {
    return Status(StatusCode::kInternalError, "cannot list " + dir.string() + ": " + ec.message());
  };
  fs::directory_iterator it(dir, ec);
  if (ec) return cannot_list();
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path host = it->path();
    const std::string name = host.filename().string();
    const std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st {};
    if (lstat(host.c_str(), &st) != 0) {
      return Status(StatusCode::kInternalError, "cannot stat " + host.string());
    }
    TreeEntry e;
    e.entry.path = join_path(options.prefix, path);
    e.entry.mode = st.st_mode & 07777;
    e.entry.uid = options.keep_owners ? st.st_uid : 0;
    e.entry.gid = options.keep_owners ? st.st_gid : 0;
    e.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    if (S_ISDIR(st.st_mode)) {
      e.entry.type = TarEntry::Type::kDirectory;
      if (options.normalize_modes) e.entry.mode = 0755;
      tree.entries.push_back(e);
      auto s = walk(host, path, options, tree);
      if (!s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      e.entry.type = TarEntry::Type::kSymlink;
      e.entry.link_target = fs::read_symlink(host, ec).string();
      if (ec) return Status(StatusCode::kInternalError, "cannot read link " + host.string());
      if (options.normalize_modes) e.entry.mode = 0777;
      tree.entries.push_back(e);
    } else if (S_ISREG(st.st_mode)) {
      e.entry.type = TarEntry::Type::kFile;
      if (options.normalize_modes) e.entry.mode = (st.st_mode & 0111) ? 0755 : 0644;
      e.source = host.string();
      e.size = static_cast<std::uint64_t>(st.st_size);
      // A file with further names: remembered by its inode (below) through `link_target`.
      if (st.st_nlink > 1) {
        e.entry.link_target =
            "inode:" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
      }
      tree.entries.push_back(e);
    } else {
      tree.skipped.push_back(e.entry.path);  // socket, device node or FIFO
    }
  }
  if (ec) return cannot_list();  // the iteration stopped on an error
  return {};
}

struct MappedFile {
  void* data = MAP_FAILED;
  std::size_t size = 0;
  ~MappedFile() {
    if (data != MAP_FAILED) munmap(data, size);
  }
  std::string_view view() const {
    return data == MAP_FAILED ? std::string_view()
                              : std::string_view(static_cast<char*>(data), size);
  }
};

Status map_file(const std::string& path, MappedFile& out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(StatusCode::kNotFound, "cannot open " + path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Status(StatusCode::kInternalError, "cannot stat " + path);
  }
  out.size = static_cast<std::size_t>(st.st_size);
  if (out.size > 0) out.data = mmap(nullptr, out.size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (out.size > 0 && out.data == MAP_FAILED) {
    return Status(StatusCode::kInternalError, "cannot map " + path);
  }
  return {};
}

bool write_whole_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

std::string hex_of(const std::string& digest) {
  const auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

bool is_elf(std::string_view bytes) {
  return bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view(
                                                        "\x7f"
                                                        "ELF",
                                                        4);
}

// The directory `rel` of the lower layers (the uppermost that has it), as the top layer must
// repeat it; root's 0755 when none has it.
kube::Result<TarEntry> parent_directory(const std::vector<std::string>& dirs,
                                        const std::string& rel, const std::string& dest) {
  TarEntry entry = TarEntry::directory(rel, 0755);
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    struct stat st {};
    const fs::path host = fs::path(*it) / rel;
    if (lstat(host.c_str(), &st) != 0) continue;
    if (!S_ISDIR(st.st_mode)) {
      return Status(StatusCode::kInvalid, "--add " + dest + ": /" + rel +
                                              " is not a directory in the root file system " + *it +
                                              " (name the path it leads to)");
    }
    entry.mode = st.st_mode & 07777;
    entry.uid = st.st_uid;
    entry.gid = st.st_gid;
    break;
  }
  return entry;
}

// True when some lower layer holds `rel` (as any kind of entry; a symlink counts).
bool lower_has(const std::vector<std::string>& dirs, const std::string& rel) {
  for (const auto& dir : dirs) {
    struct stat st {};
    if (lstat((fs::path(dir) / rel).c_str(), &st) == 0) return true;
  }
  return false;
}

// An added program must find what it loads in the root file system it is added to.
Status check_libraries(const std::vector<std::string>& dirs, const std::string& dest,
                       std::string_view bytes) {
  auto elf = read_elf(bytes);
  if (!elf.ok()) return {};  // not an ELF file we understand: nothing to check
  static const std::vector<std::string> kLibraryDirs = {"usr/lib/x86_64-linux-gnu",
                                                        "lib/x86_64-linux-gnu",
                                                        "usr/lib",
                                                        "lib",
                                                        "usr/local/lib",
                                                        "lib64",
                                                        "usr/lib64"};
  std::vector<std::string> search = kLibraryDirs;
  for (const auto& r : elf->runpath)
    if (r.starts_with("/")) search.insert(search.begin(), image_relative(r));
  std::vector<std::string> missing;
  for (const auto& soname : elf->needed) {
    bool found = false;
    for (const auto& d : search)
      found = found || lower_has(dirs, d + "/" + soname);
    if (!found) missing.push_back(soname);
  }
  if (!elf->interpreter.empty() && !lower_has(dirs, image_relative(elf->interpreter))) {
    missing.push_back(elf->interpreter);
  }
  if (missing.empty()) return {};
  std::string names;
  for (const auto& m : missing)
    names += (names.empty() ? "" : ", ") + m;
  return Status(StatusCode::kInvalid, dest + " needs " + names +
                                          ", which the root file system lacks (add the Debian "
                                          "package that provides it)");
}

// The top layer: the added files and the directories leading to them.
kube::Result<std::vector<TarEntry>> added_entries(const RootfsImageRequest& request) {
  std::map<std::string, TarEntry> entries;
  for (const auto& [source, dest] : request.add) {
    const std::string rel = image_relative(dest);
    if (!dest.starts_with("/") || rel.empty()) {
      return Status(StatusCode::kInvalid, "--add " + source + "=" + dest +
                                              ": the destination must be an absolute path below /");
    }
    std::error_code ec;
    const auto status = fs::status(source, ec);
    if (ec || !fs::exists(status))
      return Status(StatusCode::kNotFound, "--add: cannot find " + source);
    std::string parent;
    for (const auto& part : fs::path(rel).parent_path()) {
      parent = join_path(parent, part.string());
      if (entries.count(parent)) continue;
      auto dir = parent_directory(request.dirs, parent, dest);
      if (!dir.ok()) return dir.status();
      entries[parent] = std::move(*dir);
    }
    if (fs::is_directory(status)) {
      TreeOptions options;
      options.prefix = rel;
      options.keep_owners = false;
      options.normalize_modes = true;
      auto tree = list_tree(source, options);
      if (!tree.ok()) return tree.status();
      entries[rel] = TarEntry::directory(rel, 0755);
      for (auto& e : tree->entries) {
        if (e.entry.type == TarEntry::Type::kFile) {
          if (!read_bytes(e.source, e.entry.data)) {
            return Status(StatusCode::kInternalError, "cannot read " + e.source);
          }
        }
        entries[e.entry.path] = std::move(e.entry);
      }
      continue;
    }
    if (!fs::is_regular_file(status)) {
      return Status(StatusCode::kInvalid, "--add: " + source + " is not a file or directory");
    }
    std::string bytes;
    if (!read_bytes(source, bytes))
      return Status(StatusCode::kInternalError, "cannot read " + source);
    if (is_elf(bytes)) {
      if (request.strip_debug) {
        auto read = read_binary(source, true, "", bytes);
        if (!read.ok()) return read;
      }
      if (!request.dirs.empty()) {
        auto checked = check_libraries(request.dirs, dest, bytes);
        if (!checked.ok()) return checked;
      }
    }
    const auto perms = fs::status(source).permissions();
    const bool executable =
        (perms & (fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec)) !=
        fs::perms::none;
    entries[rel] = TarEntry::file(rel, std::move(bytes), executable ? 0755 : 0644);
  }
  std::vector<TarEntry> out;
  out.reserve(entries.size());
  for (auto& [path, e] : entries)
    out.push_back(std::move(e));
  return out;
}

}  // namespace

kube::Result<Tree> list_tree(const std::string& dir, const TreeOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status(StatusCode::kNotFound, dir + " is not a directory");
  Tree tree;
  TreeOptions normalized = options;
  normalized.prefix = image_relative(options.prefix);
  auto s = walk(dir, "", normalized, tree);
  if (!s.ok()) return s;
  std::sort(tree.entries.begin(), tree.entries.end(),
            [](const TreeEntry& a, const TreeEntry& b) { return a.entry.path < b.entry.path; });
  std::sort(tree.skipped.begin(), tree.skipped.end());
  // The first name of a hard-linked file (in path order, so before the others in the tar) holds
  // its bytes; the others link to it.
  std::map<std::string, std::string> first_name;
  for (auto& e : tree.entries) {
    if (e.entry.type != TarEntry::Type::kFile || e.entry.link_target.empty()) continue;
    auto [it, inserted] = first_name.emplace(e.entry.link_target, e.entry.path);
    if (inserted) {
      e.entry.link_target.clear();
    } else {
      e.entry.type = TarEntry::Type::kHardlink;
      e.entry.link_target = it->second;
      e.source.clear();
      e.size = 0;
    }
  }
  return tree;
}

std::string tree_fingerprint(const Tree& tree) {
  oci::Sha256 hash;
  hash.update(kTreeLayerFormat);
  hash.update("\n");
  for (const auto& e : tree.entries) {
    const char type = e.entry.type == TarEntry::Type::kDirectory  ? 'd'
                      : e.entry.type == TarEntry::Type::kSymlink  ? 'l'
                      : e.entry.type == TarEntry::Type::kHardlink ? 'h'
                                                                  : 'f';
    std::string line;
    line += type;
    line += '\0';
    line += e.entry.path;
    line += '\0';
    line += std::to_string(e.entry.mode) + " " + std::to_string(e.entry.uid) + " " +
            std::to_string(e.entry.gid) + " " + std::to_string(e.size) + " " +
            std::to_string(e.mtime_ns);
    line += '\0';
    line += e.entry.link_target;
    line += '\n';
    hash.update(line);
  }
  return hash.digest();
}

kube::Result<TreeLayer> write_tree_layer(const Tree& tree, const std::string& blob_path) {
  std::ofstream file(blob_path, std::ios::binary | std::ios::trunc);
  if (!file) return Status(StatusCode::kInternalError, "cannot write " + blob_path);
  oci::GzipWriter gzip;
  oci::Sha256 tar_hash, blob_hash;
  std::int64_t blob_size = 0;
  std::string tar, compressed;
  auto emit = [&](std::string_view bytes) {
    tar_hash.update(bytes);
    gzip.write(bytes, compressed);
    blob_hash.update(compressed);
    blob_size += static_cast<std::int64_t>(compressed.size());
    file.write(compressed.data(), static_cast<std::streamsize>(compressed.size()));
    compressed.clear();
  };
  for (const auto& e : tree.entries) {
    TarEntry entry = e.entry;
    if (entry.type == TarEntry::Type::kFile) {
      if (!read_bytes(e.source, entry.data)) {
        return Status(StatusCode::kInternalError, "cannot read " + e.source);
      }
      if (entry.data.size() != e.size) {
        return Status(StatusCode::kInternalError, e.source + " changed while it was packed");
      }
    }
    tar.clear();
    oci::append_tar_entry(tar, entry);
    emit(tar);
  }
  emit(oci::tar_end());
  gzip.finish(compressed);
  blob_hash.update(compressed);
  blob_size += static_cast<std::int64_t>(compressed.size());
  file.write(compressed.data(), static_cast<std::streamsize>(compressed.size()));
  file.close();
  if (!file) return Status(StatusCode::kInternalError, "cannot write " + blob_path);
  TreeLayer layer;
  layer.descriptor.media_type = std::string(oci::kOciLayerGzip);
  layer.descriptor.digest = blob_hash.digest();
  layer.descriptor.size = blob_size;
  layer.diff_id = tar_hash.digest();
  layer.blob_path = blob_path;
  return layer;
}

kube::Result<TreeLayer> cached_tree_layer(const Tree& tree, const std::string& cache_dir) {
  const fs::path cache(cache_dir);
  const fs::path blobs = cache / "blobs" / "sha256";
  const fs::path trees = cache / "trees";
  std::error_code ec;
  fs::create_directories(blobs, ec);
  fs::create_directories(trees, ec);
  if (ec)
    return Status(StatusCode::kInternalError, "cannot create " + cache_dir + ": " + ec.message());
  const fs::path index = trees / (hex_of(tree_fingerprint(tree)) + ".json");
  std::string known;
  if (read_bytes(index, known)) {
    auto j = nlohmann::json::parse(known, nullptr, false);
    if (j.is_object() && j.value("digest", "").starts_with("sha256:")) {
      TreeLayer layer;
      layer.descriptor.media_type = std::string(oci::kOciLayerGzip);
      layer.descriptor.digest = j.value("digest", "");
      layer.descriptor.size = j.value("size", std::int64_t{0});
      layer.diff_id = j.value("diffId", "");
      layer.blob_path = (blobs / hex_of(layer.descriptor.digest)).string();
      layer.from_cache = true;
      const auto size = fs::file_size(layer.blob_path, ec);
      if (!ec && static_cast<std::int64_t>(size) == layer.descriptor.size &&
          oci::is_valid_digest(layer.diff_id)) {
        return layer;
      }
    }
  }
  const fs::path tmp = blobs / ("tmp-" + std::to_string(getpid()));
  auto layer = write_tree_layer(tree, tmp.string());
  if (!layer.ok()) {
    fs::remove(tmp, ec);
    return layer;
  }
  const fs::path blob = blobs / hex_of(layer->descriptor.digest);
  fs::rename(tmp, blob, ec);
  if (ec) return Status(StatusCode::kInternalError, "cannot store " + blob.string());
  layer->blob_path = blob.string();
  const nlohmann::json j = {{"digest", layer->descriptor.digest},
                            {"size", layer->descriptor.size},
                            {"diffId", layer->diff_id}};
  if (!write_whole_file(index, j.dump())) {
    return Status(StatusCode::kInternalError, "cannot write " + index.string());
  }
  return layer;
}

kube::Result<RootfsImageResult> build_rootfs_image(const RootfsImageRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  auto target = oci::parse_reference(request.image);
  if (!target.ok()) return Status(StatusCode::kInvalid, "--image: " + target.status().message());
  target->digest.clear();
  if (target->tag.empty()) target->tag = "latest";
  if (request.dirs.empty() && request.add.empty()) {
    return Status(StatusCode::kInvalid, "nothing to pack: give --dir or --add");
  }
  RootfsImageResult result;

  // The trees' layers, from the cache or written to a directory of this run.
  std::optional<TempDirectory> scratch;
  std::vector<TreeLayer> tree_layers;
  for (const auto& dir : request.dirs) {
    auto tree = list_tree(dir);
    if (!tree.ok()) return tree.status();
    result.skipped.insert(result.skipped.end(), tree->skipped.begin(), tree->skipped.end());
    if (request.layer_cache.empty() && !scratch) {
      scratch.emplace("kubefn-rootfs");
      if (!scratch->ok()) {
        return Status(StatusCode::kInternalError, "cannot create a temporary directory");
      }
    }
    auto layer =
        request.layer_cache.empty()
            ? write_tree_layer(
                  *tree,
                  (scratch->path() / ("layer-" + std::to_string(tree_layers.size()))).string())
            : cached_tree_layer(*tree, request.layer_cache);
    if (!layer.ok()) return layer.status();
    result.layers.push_back({layer->descriptor.digest, layer->descriptor.size,
                             static_cast<std::int64_t>(tree->entries.size()), layer->from_cache});
    tree_layers.push_back(std::move(*layer));
  }

  std::optional<oci::Layer> top;
  if (!request.add.empty()) {
    auto entries = added_entries(request);
    if (!entries.ok()) return entries.status();
    top = oci::make_layer(*entries);
    result.layers.push_back({top->descriptor.digest, top->descriptor.size,
                             static_cast<std::int64_t>(entries->size()), false});
  }

  oci::ImageConfig config = oci::ImageConfig::for_platform();
  if (!request.entrypoint.empty()) config.set_entrypoint(request.entrypoint);
  if (!request.cmd.empty()) config.set_cmd(request.cmd);
  if (!request.user.empty()) config.set_user(request.user);
  if (!request.working_dir.empty()) config.set_working_dir(request.working_dir);
  for (const auto& [name, value] : request.env)
    config.set_env(name, value);
  for (const auto& [name, value] : request.labels)
    config.set_label(name, value);
  oci::Manifest manifest = oci::scratch_manifest();
  for (const auto& layer : tree_layers) {
    config.append_layer(layer.diff_id, "kubefn-build rootfs --dir");
    manifest.layers.push_back(layer.descriptor);
  }
  if (top) {
    config.append_layer(top->diff_id, "kubefn-build rootfs --add");
    manifest.layers.push_back(top->descriptor);
  }
  const std::string config_blob = config.serialize();
  manifest.config = oci::describe(oci::kOciConfig, config_blob);
  const std::string manifest_bytes = oci::serialize_manifest(manifest);
  const std::string manifest_digest = oci::sha256_digest(manifest_bytes);

  oci::RegistryOptions options;
  options.plain_http = request.registry.plain_http;
  auto creds = oci::CredentialStore::load(request.registry.registry_config);
  if (!creds.ok()) return creds.status();
  options.credentials = std::move(*creds);
  oci::RegistryClient client(target->registry, options);

  // Unchanged: the tag names this very manifest already.
  auto current = client.manifest_digest(target->repository, target->tag);
  if (!current.ok()) return current.status();
  if (current->has_value() && **current == manifest_digest) {
    result.unchanged = true;
  } else {
    int existed = 0;
    for (const auto& layer : tree_layers) {
      auto exists = client.blob_exists(target->repository, layer.descriptor.digest);
      if (!exists.ok()) return exists.status();
      if (*exists) {
        ++existed;
        continue;
      }
      MappedFile blob;
      auto mapped = map_file(layer.blob_path, blob);
      if (!mapped.ok()) return mapped;
      auto pushed = client.push_blob(target->repository, blob.view(), layer.descriptor.digest);
      if (!pushed.ok()) return pushed.status();
    }
    if (top) {
      auto pushed = client.push_blob(target->repository, top->blob, top->descriptor.digest);
      if (!pushed.ok()) return pushed.status();
    }
    auto pushed = client.push_blob(target->repository, config_blob, manifest.config.digest);
    if (!pushed.ok()) return pushed.status();
    auto put =
        client.put_manifest(target->repository, target->tag, manifest_bytes, oci::kOciManifest);
    if (!put.ok()) return put.status();
    result.existed = existed + client.stats().existed;
    result.uploaded = client.stats().uploaded;
    result.bytes_sent = client.stats().bytes_sent;
  }
  result.digest = manifest_digest;
  result.image = target->with_digest(manifest_digest);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

std::string rootfs_result_json(const RootfsImageResult& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers) {
    layers.push_back(
        {{"digest", l.digest}, {"size", l.size}, {"entries", l.entries}, {"cached", l.from_cache}});
  }
  nlohmann::json j = {{"image", r.image},
                      {"digest", r.digest},
                      {"layers", layers},
                      {"skipped", r.skipped},
                      {"unchanged", r.unchanged},
                      {"uploaded", r.uploaded},
                      {"existed", r.existed},
                      {"bytesSent", r.bytes_sent},
                      {"seconds", std::round(r.seconds * 1000.0) / 1000.0}};
  std::string s = j.dump();
  if (s.size() > 4096) {
    j["skipped"] = nlohmann::json::array();  // the termination log keeps to its bound
    s = j.dump();
  }
  return s;
}

}  // namespace kubefn::builder
