#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kubefn/builder/image_build.hpp"
#include "kubefn/kube/result.hpp"
#include "kubefn/oci/image.hpp"
#include "kubefn/oci/tar.hpp"

namespace kubefn::builder {

// Images from whole directory trees (`kubefn-build rootfs`): a root file system assembled
// elsewhere (the builder image's, from Debian packages) as one layer per directory, and a small
// layer of files added on top. The tar of a tree is deterministic: entries sorted by path,
// mtime 0, owners and permission bits (setuid, setgid and sticky too) from the files, symlinks
// as symlinks, further names of a hard-linked file as hard links to its first name in that
// order; sockets, device nodes and FIFOs are left out (a container runtime makes /dev). So the
// same tree gives the same layer digest, wherever it lies.

// One entry of a tree. A regular file's bytes stay on disk (`source`) until the layer is written.
struct TreeEntry {
  oci::TarEntry entry;  // path in the image, type, mode, owners, link target; no data
  std::string source;   // the host file holding a regular file's bytes
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
};

struct Tree {
  std::vector<TreeEntry> entries;    // sorted by entry.path
  std::vector<std::string> skipped;  // paths of sockets, device nodes and FIFOs: not in the layer
};

struct TreeOptions {
  std::string prefix;            // where the tree lands in the image ("usr/local"); "": its root
  bool keep_owners = true;       // false: every entry root's (0:0)
  bool normalize_modes = false;  // true: directories 0755, files 0755 or 0644 (by any x bit)
};

// Lists `dir` recursively without following symlinks (the directory itself is not an entry).
kube::Result<Tree> list_tree(const std::string& dir, const TreeOptions& options = {});

// "sha256:..." over the listing alone (paths, types, modes, owners, sizes, mtimes, link targets),
// without reading a file: equal fingerprints are taken to mean equal layers, the way build tools
// take a file of the same size and mtime for unchanged.
std::string tree_fingerprint(const Tree& tree);

struct TreeLayer {
  oci::Descriptor descriptor;  // kOciLayerGzip, digest and size of the blob
  std::string diff_id;         // sha256 of the uncompressed tar
  std::string blob_path;       // the gzip bytes on disk
  bool from_cache = false;     // found in the layer cache: nothing read or compressed
};

// Writes the tree's layer to `blob_path` (tar and gzip streamed, one file in memory at a time).
kube::Result<TreeLayer> write_tree_layer(const Tree& tree, const std::string& blob_path);

// The tree's layer through `cache_dir`: blobs/sha256/<hex> holds the blobs and trees/<hex of
// the fingerprint> the layer a tree made. A tree seen before costs its listing only.
kube::Result<TreeLayer> cached_tree_layer(const Tree& tree, const std::string& cache_dir);

struct RootfsImageRequest {
  std::vector<std::string> dirs;  // one layer each, bottom first
  // Files (or directories) for the top layer, (host path, absolute path in the image): owned
  // by root, modes 0755/0644 by their x bits, ELF files stripped of debug sections unless
  // `strip_debug` is false. Parent directories take their owners and modes from the `dirs`.
  std::vector<std::pair<std::string, std::string>> add;
  std::vector<std::string> entrypoint, cmd;
  std::string user, working_dir;
  std::vector<std::pair<std::string, std::string>> env, labels;
  std::string image;        // target reference (tag latest when none)
  std::string layer_cache;  // directory; empty: the tree layers are written to a temporary one
  bool strip_debug = true;
  RegistrySettings registry;
};

struct RootfsLayerResult {
  std::string digest;
  std::int64_t size = 0;  // compressed
  std::int64_t entries = 0;
  bool from_cache = false;
};

struct RootfsImageResult {
  std::string image;  // registry/repository@sha256:...
  std::string digest;
  std::vector<RootfsLayerResult> layers;  // bottom first; the added files' layer last
  std::vector<std::string> skipped;       // left out of the trees (sockets, devices, FIFOs)
  bool unchanged = false;                 // the tag already named this manifest
  int uploaded = 0, existed = 0;
  std::int64_t bytes_sent = 0;
  double seconds = 0;
};

// Builds the image and pushes it: a tag already naming the same manifest costs one HEAD; else
// every blob is HEADed and only the missing ones are uploaded. Each ELF file of `add` must
// find the libraries it needs (and its loader) in the `dirs`, when there are any.
kube::Result<RootfsImageResult> build_rootfs_image(const RootfsImageRequest& request);

std::string rootfs_result_json(const RootfsImageResult& result);

}  // namespace kubefn::builder
