#pragma once

// A throw-away TLS identity for 127.0.0.1/localhost, valid for one day. The certificate is its
// own CA, so clients trust it by putting it in their CA bundle.

#include <string>

#include "api_error.hpp"

namespace kubefn::emulator {

struct PemIdentity {
  std::string cert_pem;
  std::string key_pem;
};

Result<PemIdentity> make_self_signed_identity();

}  // namespace kubefn::emulator
