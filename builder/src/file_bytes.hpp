#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace kubefn::builder {

// The whole of a file, byte for byte; false when it cannot be opened.
inline bool read_bytes(const std::filesystem::path& p, std::string& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = std::move(ss).str();
  return true;
}

}  // namespace kubefn::builder
