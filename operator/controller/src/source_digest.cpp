#include "kubefn/controller/source_digest.hpp"

#include <openssl/evp.h>

#include <array>

namespace kubefn::controller {

std::string sha256_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string source_digest(const FunctionSpec& spec, const std::string& source_text) {
  // A length-prefixed record of every build input, so no two inputs collide by concatenation.
  std::string record;
  auto add = [&record](const std::string& part) {
    record += std::to_string(part.size());
    record += ':';
    record += part;
  };
  add("kubefn-source-v1");
  add(spec.runtime);
  add(spec.module);
  add(spec.handler_name);
  add(source_text);
  for (const auto& d : spec.dependencies)
    add(d);
  return sha256_hex(record);
}

}  // namespace kubefn::controller
