// Kubernetes resource quantities ("128Mi", "500m", "1.5", "2e3"), parsed as the API server's
// resource.Quantity parses them, so a Function is checked before its Deployment is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kubefn::controller {

// A parsed quantity: its value in nano-units (10^-9), rounded up as the API server rounds
// anything finer, and its sign.
struct Quantity {
  unsigned __int128 nanos = 0;
  bool negative = false;

  bool is_zero() const { return nanos == 0; }
  // A whole number of units (bytes, devices, cores).
  bool is_integer() const { return nanos % 1'000'000'000 == 0; }
};

// Parses `text` (surrounding whitespace ignored). On failure returns nothing and says why in
// `why`: "is not a quantity" (grammar or suffix) or "is too large" (beyond 2^63-1 units, which
// the API server would silently cap).
std::optional<Quantity> parse_quantity(std::string_view text, std::string* why = nullptr);

// <0, 0, >0 as a is below, equal to or above b.
int compare(const Quantity& a, const Quantity& b);

}  // namespace kubefn::controller
