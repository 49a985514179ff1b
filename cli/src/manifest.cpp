#include "kubefn/cli/manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <variant>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::cli {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;
using nlohmann::json;

// A plain (untagged, unquoted) scalar as YAML 1.2's core schema reads it.
json plain_scalar(const std::string& text) {
  static const std::regex int_re("^[-+]?[0-9]+$");
  static const std::regex float_re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (std::regex_match(text, int_re)) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
      return text;  // out of range: keep the digits
    }
  }
  if (std::regex_match(text, float_re)) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
      return text;
    }
  }
  return text;
}

// JSON is a tree; YAML aliases make a graph, cyclic when an anchor is used inside itself and
// exponentially large when aliases nest. Both are refused rather than expanded without end.
constexpr int kMaxDepth = 128;
constexpr std::size_t kMaxValues = 100000;

struct Unsupported {
  std::string message;
};

json to_json(const YAML::Node& node, int depth, std::size_t& values) {
  if (depth > kMaxDepth) {
    throw Unsupported{"nested more than " + std::to_string(kMaxDepth) +
                      " levels deep (an alias used inside its own anchor?)"};
  }
  if (++values > kMaxValues) {
    throw Unsupported{"more than " + std::to_string(kMaxValues) +
                      " values once its aliases are expanded"};
  }
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      // "?" is a plain scalar; quoted and block scalars carry "!" and are always strings.
      if (node.Tag() == "?") return plain_scalar(node.Scalar());
      return node.Scalar();
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node)
        out.push_back(to_json(item, depth + 1, values));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node)
        out[item.first.as<std::string>()] = to_json(item.second, depth + 1, values);
      return out;
    }
  }
  return nullptr;
}

struct Document {
  std::string text;
  int first_line = 0;  // 0-based line of the document's first line in the whole stream
};

// Splits a stream at "---" lines so that each document parses on its own and an error can name
// its document.
std::vector<Document> split_documents(std::string_view yaml) {
  std::vector<Document> docs(1);
  int line_no = 0;
  size_t pos = 0;
  while (pos < yaml.size()) {
    size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) end = yaml.size();
    std::string_view line = yaml.substr(pos, end - pos);
    if (line.rfind("---", 0) == 0 &&
        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r')) {
      docs.push_back({std::string(line.substr(3)) + "\n", line_no});
    } else if (line == "..." || line == "...\r") {
      // end-of-document marker: the next document starts at the next "---"
    } else {
      docs.back().text.append(line).append("\n");
    }
    pos = end + 1;
    ++line_no;
  }
  return docs;
}

bool blank_document(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos && line[first] != '#') return false;
  }
  return true;
}

std::string read_stream(std::istream& in) {
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool looks_like_string_of_other_type(const std::string& s) {
  return !plain_scalar(s).is_string() || s.empty() || s.front() == ' ' || s.back() == ' ';
}

void emit(YAML::Emitter& out, const json& value) {
  if ((value.is_object() || value.is_array()) && value.empty()) {
    out << YAML::Flow << (value.is_object() ? YAML::BeginMap : YAML::BeginSeq)
        << (value.is_object() ? YAML::EndMap : YAML::EndSeq);
  } else if (value.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, item] : value.items()) {
      out << YAML::Key << key << YAML::Value;
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
    } else if (looks_like_string_of_other_type(s)) {
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
  std::vector<ManifestObject> out;
  int number = 0;
  for (const auto& doc : split_documents(yaml)) {
    if (blank_document(doc.text)) continue;
    ++number;
    YAML::Node node;
    try {
      node = YAML::Load(doc.text);
    } catch (const YAML::Exception& error) {
      std::string where = source + " document " + std::to_string(number);
      if (!error.mark.is_null()) {
        where += " (line " + std::to_string(doc.first_line + error.mark.line + 1) + ")";
      }
      return Status(StatusCode::kInvalid, where + ": invalid YAML: " + error.msg);
    }
    if (!node.IsMap()) {
      return Status(StatusCode::kInvalid, source + " document " + std::to_string(number) +
                                              ": expected a mapping (an object with apiVersion, "
                                              "kind, metadata and spec)");
    }
    json object;
    try {
      std::size_t values = 0;
      object = to_json(node, 0, values);
    } catch (const YAML::Exception& error) {
      return Status(StatusCode::kInvalid, source + " document " + std::to_string(number) +
                                              ": unsupported YAML: " + error.msg);
    } catch (const Unsupported& error) {
      return Status(StatusCode::kInvalid, source + " document " + std::to_string(number) +
                                              ": unsupported YAML: " + error.message);
    }
    out.push_back({std::move(object), source, number});
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
