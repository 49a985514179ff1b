#include "kubefn/oci/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace kubefn::oci {
namespace {

std::string hex(const unsigned char* bytes, unsigned int size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

}  // namespace

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  bool started = false;
  State() : ctx(EVP_MD_CTX_new()) {}
  ~State() { EVP_MD_CTX_free(ctx); }
  void start() {
    if (!started) {
      EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
      started = true;
    }
  }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view bytes) {
  state_->start();
  EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size());
}

std::string Sha256::digest() {
  state_->start();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(state_->ctx, out, &size);
  state_->started = false;
  return "sha256:" + hex(out, size);
}

std::string sha256_digest(std::string_view bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.digest();
}

bool is_valid_digest(std::string_view digest) {
  std::size_t hex_size = 0;
  std::string_view rest;
  if (digest.starts_with("sha256:")) {
    hex_size = 64;
    rest = digest.substr(7);
  } else if (digest.starts_with("sha512:")) {
    hex_size = 128;
    rest = digest.substr(7);
  } else {
    return false;
  }
  if (rest.size() != hex_size) return false;
  for (char c : rest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace kubefn::oci
