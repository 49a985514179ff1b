#include "kubefn/cli/manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "kubefn/controller/function_spec.hpp"
#include "kubefn/emulator/yaml_to_json.hpp"

namespace kubefn::cli {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;
using nlohmann::json;

std::string read_stream(std::istream& in) {
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void emit(YAML::Emitter& out, const json& value) {
  if ((value.is_object() || value.is_array()) && value.empty()) {
    out << YAML::Flow << (value.is_object() ? YAML::BeginMap : YAML::BeginSeq)
        << (value.is_object() ? YAML::EndMap : YAML::EndSeq);
  } else if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key;
      // A key is read as a scalar too: "yes" unquoted would come back as the key "true".
      if (emulator::yaml_plain_is_string(key)) {
        out << key;
      } else {
        out << YAML::DoubleQuoted << key;
      }
      out << YAML::Value;
      emit(out, item);
    }
    out << YAML::EndMap;
  } else if (value.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : value)
      emit(out, item);
    out << YAML::EndSeq;
  } else if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.find('\n') != std::string::npos) {
      out << YAML::Literal << s;
    } else if (!emulator::yaml_plain_is_string(s)) {
      out << YAML::DoubleQuoted << s;
    } else {
      out << s;
    }
  } else if (value.is_null()) {
    out << YAML::Null;
  } else if (value.is_boolean()) {
    out << (value.get<bool>() ? "true" : "false");
  } else {
    out << value.dump();
  }
}

}  // namespace

Result<std::vector<ManifestObject>> parse_manifests(std::string_view yaml,
                                                    const std::string& source) {
  emulator::YamlError error;
  auto docs = emulator::yaml_documents_to_json(yaml, &error);
  if (!docs) {
    std::string where = source + " document " + std::to_string(error.document);
    if (error.kind == emulator::YamlError::Kind::kSyntax) {
      if (error.line >= 0) where += " (line " + std::to_string(error.line + 1) + ")";
      return Status(StatusCode::kInvalid, where + ": invalid YAML: " + error.message);
    }
    return Status(StatusCode::kInvalid, where + ": unsupported YAML: " + error.message);
  }
  std::vector<ManifestObject> out;
  for (auto& doc : *docs) {
    if (!doc.value.is_object()) {
      return Status(StatusCode::kInvalid, source + " document " + std::to_string(doc.number) +
                                              ": expected a mapping (an object with apiVersion, "
                                              "kind, metadata and spec)");
    }
    out.push_back({std::move(doc.value), source, doc.number});
  }
  return out;
}

Result<std::vector<ManifestObject>> read_manifests(const std::string& path,
                                                   std::istream& stdin_stream, bool recursive) {
  namespace fs = std::filesystem;
  if (path == "-") return parse_manifests(read_stream(stdin_stream), "<stdin>");
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    auto take = [&](const fs::directory_entry& entry) {
      const auto ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        files.push_back(entry.path());
      }
    };
    if (recursive) {
      for (const auto& entry : fs::recursive_directory_iterator(path, ec))
        take(entry);
    } else {
      for (const auto& entry : fs::directory_iterator(path, ec))
        take(entry);
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      return Status(StatusCode::kNotFound, "no .yaml, .yml or .json files in directory " + path);
    }
  } else {
    files.emplace_back(path);
  }
  std::vector<ManifestObject> all;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status(StatusCode::kNotFound, "cannot read " + file.string());
    auto parsed = parse_manifests(read_stream(in), file.string());
    if (!parsed.ok()) return parsed.status();
    for (auto& object : *parsed)
      all.push_back(std::move(object));
  }
  return all;
}

Status check_function(ManifestObject& manifest, const std::string& ns) {
  json& object = manifest.object;
  const std::string where = manifest.source + " document " + std::to_string(manifest.document);
  // Strings or nothing: a value of another type is as wrong as a missing one.
  const auto text = [&](const char* name) {
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string api_version = text("apiVersion");
  const std::string kind = text("kind");
  if (api_version != api::kApiVersion || kind != api::kKind) {
    return Status(StatusCode::kInvalid,
                  where + " is " +
                      (kind.empty() ? "an object without kind" : api_version + " " + kind) +
                      ": kubefn takes kubefn.dev/v1alpha1 Function objects (use kubectl for other "
                      "kinds)");
  }
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    return Status(StatusCode::kInvalid, where + ": metadata is missing: set metadata.name");
  }
  json& meta = object["metadata"];
  if (!meta.contains("name") || !meta["name"].is_string() ||
      meta["name"].get<std::string>().empty()) {
    return Status(StatusCode::kInvalid, where + ": metadata.name is missing");
  }
  if (!meta.contains("namespace") || !meta["namespace"].is_string() ||
      meta["namespace"].get<std::string>().empty()) {
    meta["namespace"] = ns;
  }
  auto parsed = controller::parse_function(object);
  if (const auto* error = std::get_if<controller::SpecError>(&parsed)) {
    return Status(StatusCode::kInvalid, where + " (function " + meta["name"].get<std::string>() +
                                            "): " + error->reason + ": " + error->message)
        .set_reason(error->reason);
  }
  return {};
}

std::string to_yaml(const json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::Block;
  emit(out, value);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace kubefn::cli
