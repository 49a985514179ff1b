#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kubefn/builder/diagnostics.hpp"
#include "kubefn/builder/image_build.hpp"

namespace kubefn::builder {

namespace {
constexpr std::size_t kMaxJson = 4096;
}

std::string function_result_json(const FunctionImageResult& r) {
  nlohmann::json j = {{"image", r.image},
                      {"digest", r.digest},
                      {"tag", r.tag},
                      {"sourceDigest", r.source_digest},
                      {"cached", r.cached},
                      {"uploaded", r.uploaded},
                      {"existed", r.existed},
                      {"mounted", r.mounted},
                      {"bytesSent", r.bytes_sent},
                      {"bundledLibraries", r.bundled_libraries},
                      {"seconds", std::round(r.seconds * 1000.0) / 1000.0}};
  std::string s = j.dump();
  if (s.size() > kMaxJson) {
    j.erase("bundledLibraries");
    s = j.dump();
  }
  return s;
}

std::string base_result_json(const BaseImageResult& r) {
  nlohmann::json j = {{"image", r.image},
                      {"digest", r.digest},
                      {"libraries", r.libraries},
                      {"statsPlugin", r.stats_plugin},
                      {"compressedBytes", r.compressed_bytes},
                      {"uploaded", r.uploaded},
                      {"existed", r.existed},
                      {"seconds", std::round(r.seconds * 1000.0) / 1000.0}};
  std::string s = j.dump();
  if (s.size() > kMaxJson) {
    // The image's label lists them all; the termination log keeps to its bound.
    j.erase("libraries");
    s = j.dump();
  }
  return s;
}

std::string error_json(const std::string& message) {
  // Leave room for the JSON around the message and for escapes.
  std::string text = truncate_utf8(message, 2048);
  return nlohmann::json{{"error", text}}.dump(-1, ' ', false,
                                              nlohmann::json::error_handler_t::replace);
}

bool write_termination_log(const std::string& path, const std::string& json) {
  if (path.empty()) return true;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json.substr(0, kMaxJson);
  return static_cast<bool>(out);
}

}  // namespace kubefn::builder
