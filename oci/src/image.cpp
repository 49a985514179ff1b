#include "kubefn/oci/image.hpp"

#include <algorithm>

#include "kubefn/oci/digest.hpp"

namespace kubefn::oci {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;
using nlohmann::json;

json descriptor_json(const Descriptor& descriptor) {
  json out = {{"mediaType", descriptor.media_type},
              {"digest", descriptor.digest},
              {"size", descriptor.size}};
  if (!descriptor.annotations.empty()) out["annotations"] = descriptor.annotations;
  return out;
}

Status invalid(const std::string& what) {
  return Status(StatusCode::kInvalid, what);
}

Result<Descriptor> parse_descriptor(const json& value, const std::string& where) {
  if (!value.is_object()) return invalid(where + ": descriptor is not an object");
  Descriptor out;
  if (value.contains("mediaType") && value["mediaType"].is_string()) {
    out.media_type = value["mediaType"].get<std::string>();
  }
  if (!value.contains("digest") || !value["digest"].is_string()) {
    return invalid(where + ": descriptor has no digest");
  }
  out.digest = value["digest"].get<std::string>();
  if (!is_valid_digest(out.digest)) return invalid(where + ": bad digest \"" + out.digest + "\"");
  if (!value.contains("size") || !value["size"].is_number_integer()) {
    return invalid(where + ": descriptor has no size");
  }
  out.size = value["size"].get<std::int64_t>();
  if (out.size < 0) return invalid(where + ": negative size");
  if (value.contains("annotations") && value["annotations"].is_object()) {
    for (const auto& [key, annotation] : value["annotations"].items()) {
      if (annotation.is_string()) out.annotations[key] = annotation.get<std::string>();
    }
  }
  return out;
}

Result<json> parse_json(std::string_view text, const std::string& what) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return invalid(what + " is not a JSON object");
  return doc;
}

}  // namespace

Descriptor describe(std::string_view media_type, std::string_view bytes) {
  Descriptor out;
  out.media_type = std::string(media_type);
  out.digest = sha256_digest(bytes);
  out.size = static_cast<std::int64_t>(bytes.size());
  return out;
}

Layer make_layer(const std::vector<TarEntry>& entries) {
  const std::string tar = write_tar(entries);
  Layer layer;
  layer.diff_id = sha256_digest(tar);
  layer.blob = gzip(tar);
  layer.descriptor = describe(kOciLayerGzip, layer.blob);
  return layer;
}

std::string serialize_manifest(const Manifest& manifest) {
  json doc = {
      {"schemaVersion", 2},
      {"mediaType", manifest.media_type.empty() ? std::string(kOciManifest) : manifest.media_type},
      {"config", descriptor_json(manifest.config)},
      {"layers", json::array()}};
  for (const Descriptor& layer : manifest.layers)
    doc["layers"].push_back(descriptor_json(layer));
  if (!manifest.annotations.empty()) doc["annotations"] = manifest.annotations;
  return doc.dump();
}

Result<Manifest> parse_manifest(std::string_view text) {
  auto doc = parse_json(text, "manifest");
  if (!doc.ok()) return doc.status();
  const json& value = *doc;
  if (value.value("schemaVersion", 0) != 2) {
    return invalid("manifest: unsupported schemaVersion (want 2)");
  }
  Manifest out;
  out.media_type = value.contains("mediaType") && value["mediaType"].is_string()
                       ? value["mediaType"].get<std::string>()
                       : std::string();
  if (out.media_type == kOciIndex || out.media_type == kDockerManifestList ||
      (out.media_type.empty() && value.contains("manifests"))) {
    return invalid("manifest: is an image index, not an image manifest");
  }
  if (out.media_type.empty()) out.media_type = std::string(kOciManifest);
  if (out.media_type != kOciManifest && out.media_type != kDockerManifest) {
    return invalid("manifest: unsupported media type \"" + out.media_type + "\"");
  }
  if (!value.contains("config")) return invalid("manifest: no config descriptor");
  auto config = parse_descriptor(value["config"], "manifest config");
  if (!config.ok()) return config.status();
  out.config = std::move(*config);
  if (value.contains("layers")) {
    if (!value["layers"].is_array()) return invalid("manifest: layers is not an array");
    for (std::size_t i = 0; i < value["layers"].size(); ++i) {
      auto layer = parse_descriptor(value["layers"][i], "manifest layer " + std::to_string(i));
      if (!layer.ok()) return layer.status();
      out.layers.push_back(std::move(*layer));
    }
  }
  if (value.contains("annotations") && value["annotations"].is_object()) {
    for (const auto& [key, annotation] : value["annotations"].items()) {
      if (annotation.is_string()) out.annotations[key] = annotation.get<std::string>();
    }
  }
  return out;
}

Result<Index> parse_index(std::string_view text) {
  auto doc = parse_json(text, "image index");
  if (!doc.ok()) return doc.status();
  const json& value = *doc;
  if (!value.contains("manifests") || !value["manifests"].is_array()) {
    return invalid("image index: no manifests array");
  }
  Index out;
  out.media_type = value.value("mediaType", std::string(kOciIndex));
  for (std::size_t i = 0; i < value["manifests"].size(); ++i) {
    const json& item = value["manifests"][i];
    auto descriptor = parse_descriptor(item, "image index entry " + std::to_string(i));
    if (!descriptor.ok()) return descriptor.status();
    IndexEntry entry;
    entry.descriptor = std::move(*descriptor);
    if (item.contains("platform") && item["platform"].is_object()) {
      const json& platform = item["platform"];
      entry.os = platform.value("os", std::string());
      entry.architecture = platform.value("architecture", std::string());
      entry.variant = platform.value("variant", std::string());
    }
    out.manifests.push_back(std::move(entry));
  }
  return out;
}

std::optional<IndexEntry> select_platform(const Index& index, std::string_view os,
                                          std::string_view architecture, std::string_view variant) {
  for (const IndexEntry& entry : index.manifests) {
    if (entry.os == os && entry.architecture == architecture &&
        (variant.empty() || entry.variant == variant)) {
      return entry;
    }
  }
  return std::nullopt;
}

ImageConfig ImageConfig::for_platform(std::string os, std::string arch) {
  ImageConfig out;
  out.json = {{"architecture", std::move(arch)},
              {"os", std::move(os)},
              {"created", std::string(kEpoch)},
              {"config", json::object()},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}},
              {"history", json::array()}};
  return out;
}

Result<ImageConfig> ImageConfig::parse(std::string_view text) {
  auto doc = parse_json(text, "image config");
  if (!doc.ok()) return doc.status();
  ImageConfig out;
  out.json = std::move(*doc);
  return out;
}

json& ImageConfig::config_section() {
  if (!json.is_object()) json = json::object();
  if (!json.contains("config") || !json["config"].is_object()) json["config"] = json::object();
  return json["config"];
}

void ImageConfig::set_entrypoint(std::vector<std::string> entrypoint) {
  config_section()["Entrypoint"] = std::move(entrypoint);
}

void ImageConfig::set_cmd(std::vector<std::string> cmd) {
  config_section()["Cmd"] = std::move(cmd);
}

void ImageConfig::set_env(const std::string& name, const std::string& value) {
  auto& section = config_section();
  if (!section.contains("Env") || !section["Env"].is_array()) section["Env"] = json::array();
  const std::string prefix = name + "=";
  for (auto& item : section["Env"]) {
    if (item.is_string() && item.get<std::string>().starts_with(prefix)) {
      item = prefix + value;
      return;
    }
  }
  section["Env"].push_back(prefix + value);
}

std::optional<std::string> ImageConfig::env(const std::string& name) const {
  if (!json.contains("config") || !json["config"].contains("Env")) return std::nullopt;
  const std::string prefix = name + "=";
  for (const auto& item : json["config"]["Env"]) {
    if (item.is_string() && item.get<std::string>().starts_with(prefix)) {
      return item.get<std::string>().substr(prefix.size());
    }
  }
  return std::nullopt;
}

void ImageConfig::set_label(const std::string& name, const std::string& value) {
  auto& section = config_section();
  if (!section.contains("Labels") || !section["Labels"].is_object()) {
    section["Labels"] = json::object();
  }
  section["Labels"][name] = value;
}

std::optional<std::string> ImageConfig::label(const std::string& name) const {
  if (!json.is_object() || !json.contains("config") || !json["config"].is_object()) {
    return std::nullopt;
  }
  const auto& section = json["config"];
  if (!section.contains("Labels") || !section["Labels"].is_object()) return std::nullopt;
  const auto& labels = section["Labels"];
  if (!labels.contains(name) || !labels[name].is_string()) return std::nullopt;
  return labels[name].get<std::string>();
}

void ImageConfig::set_user(const std::string& user) {
  config_section()["User"] = user;
}

void ImageConfig::set_working_dir(const std::string& dir) {
  config_section()["WorkingDir"] = dir;
}

void ImageConfig::add_exposed_port(const std::string& port_proto) {
  auto& section = config_section();
  if (!section.contains("ExposedPorts") || !section["ExposedPorts"].is_object()) {
    section["ExposedPorts"] = json::object();
  }
  section["ExposedPorts"][port_proto] = json::object();
}

void ImageConfig::append_layer(const std::string& diff_id, const std::string& created_by) {
  if (!json.is_object()) json = json::object();
  if (!json.contains("rootfs") || !json["rootfs"].is_object()) {
    json["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
  }
  auto& rootfs = json["rootfs"];
  if (!rootfs.contains("diff_ids") || !rootfs["diff_ids"].is_array()) {
    rootfs["diff_ids"] = json::array();
  }
  rootfs["type"] = "layers";
  rootfs["diff_ids"].push_back(diff_id);
  if (!json.contains("history") || !json["history"].is_array()) json["history"] = json::array();
  json["history"].push_back({{"created", std::string(kEpoch)}, {"created_by", created_by}});
}

std::string ImageConfig::serialize() const {
  nlohmann::json doc = json.is_object() ? json : json::object();
  if (!doc.contains("created")) doc["created"] = std::string(kEpoch);
  return doc.dump();
}

AppendResult append_layer(const Manifest& base, const ImageConfig& base_config, const Layer& layer,
                          const std::string& created_by) {
  AppendResult out;
  out.config = base_config;
  out.config.append_layer(layer.diff_id, created_by);
  out.config.json["created"] = std::string(kEpoch);
  out.config_blob = out.config.serialize();
  out.manifest.media_type = std::string(kOciManifest);
  out.manifest.config = describe(kOciConfig, out.config_blob);
  out.manifest.layers = base.layers;
  out.manifest.layers.push_back(layer.descriptor);
  return out;
}

Manifest scratch_manifest() {
  Manifest out;
  out.media_type = std::string(kOciManifest);
  out.config.media_type = std::string(kOciConfig);
  return out;
}

}  // namespace kubefn::oci
