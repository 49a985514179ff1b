#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/kube/result.hpp"
#include "kubefn/oci/tar.hpp"

namespace kubefn::oci {

// Media types (OCI image spec v1.1, and Docker image manifest v2 schema 2).
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// The fixed creation time written into configs so equal inputs give equal digests.
inline constexpr std::string_view kEpoch = "1970-01-01T00:00:00Z";

struct Descriptor {
  std::string media_type;
  std::string digest;
  std::int64_t size = 0;
  std::map<std::string, std::string> annotations;

  bool operator==(const Descriptor&) const = default;
};

// A descriptor for `bytes` of the given media type.
Descriptor describe(std::string_view media_type, std::string_view bytes);

struct Layer {            // a compressed layer ready to push
  std::string blob;       // gzip bytes
  Descriptor descriptor;  // media type kOciLayerGzip, digest/size of blob
  std::string diff_id;    // sha256 of the uncompressed tar
};
Layer make_layer(const std::vector<TarEntry>& entries);  // write_tar + gzip + digests

struct Manifest {          // image manifest (not index)
  std::string media_type;  // kOciManifest or kDockerManifest
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

// Canonical JSON: sorted keys, no whitespace, schemaVersion 2. Equal manifests give equal bytes.
std::string serialize_manifest(const Manifest& manifest);
// Accepts OCI and Docker schema 2 image manifests (not indexes: use parse_index for those).
kube::Result<Manifest> parse_manifest(std::string_view json);

// One entry of an image index / manifest list.
struct IndexEntry {
  Descriptor descriptor;
  std::string os, architecture, variant;
};
struct Index {
  std::string media_type;
  std::vector<IndexEntry> manifests;
};
kube::Result<Index> parse_index(std::string_view json);
// The entry for os/arch (and variant, when given), if any.
std::optional<IndexEntry> select_platform(const Index& index, std::string_view os,
                                          std::string_view architecture,
                                          std::string_view variant = {});

// Image config (the JSON) with helpers; unknown fields of a base config are kept as they are.
struct ImageConfig {
  nlohmann::json json;  // full document

  static ImageConfig for_platform(std::string os = "linux", std::string arch = "amd64");
  static kube::Result<ImageConfig> parse(std::string_view json);

  void set_entrypoint(std::vector<std::string> entrypoint);
  void set_cmd(std::vector<std::string> cmd);
  void set_env(const std::string& name, const std::string& value);  // replaces NAME=...
  std::optional<std::string> env(const std::string& name) const;
  void set_label(const std::string& name, const std::string& value);
  std::optional<std::string> label(const std::string& name) const;
  void set_user(const std::string& user);
  void set_working_dir(const std::string& dir);
  void add_exposed_port(const std::string& port_proto);  // "8080/tcp"
  // Adds diff_id to rootfs.diff_ids and a history entry (created kEpoch, created_by).
  void append_layer(const std::string& diff_id, const std::string& created_by);
  // Sorted keys, no whitespace; "created" is set to kEpoch when absent.
  std::string serialize() const;

 private:
  nlohmann::json& config_section();
};

// Appends `layer` to (base manifest, base config): the new manifest always uses OCI media types
// for itself and its config, keeps the base layers' media types as given, and the new config
// carries the layer's diff_id and a history entry.
struct AppendResult {
  Manifest manifest;
  ImageConfig config;
  std::string config_blob;
};
AppendResult append_layer(const Manifest& base, const ImageConfig& base_config, const Layer& layer,
                          const std::string& created_by);

// An empty base ("scratch"): no layers, a config for the platform.
Manifest scratch_manifest();

}  // namespace kubefn::oci
