#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace kubefn::oci {

// "sha256:<64 lowercase hex>" of `bytes`.
std::string sha256_digest(std::string_view bytes);

// Streaming SHA-256; digest() finishes the hash (further updates start a new one).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  std::string digest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True for "sha256:" followed by 64 lowercase hex digits (the only algorithm kubefn writes;
// "sha512:" with 128 hex digits is accepted too since registries may use it).
bool is_valid_digest(std::string_view digest);

}  // namespace kubefn::oci
