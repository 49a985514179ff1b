#include "kubefn/schedule/event_id.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace kubefn::schedule {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

void mix(std::uint64_t& h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
}

// `<length>:<bytes>`, so that no two name triples write the same bytes.
void mix_field(std::uint64_t& h, std::string_view field) {
  mix(h, std::to_string(field.size()));
  mix(h, ":");
  mix(h, field);
}

}  // namespace

std::string run_event_id(std::string_view ns, std::string_view function, std::string_view trigger,
                         Instant scheduled) {
  std::uint64_t h = kFnvOffset;
  mix_field(h, ns);
  mix_field(h, function);
  mix_field(h, trigger);
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(h));
  return std::string(digest) + "-" + std::to_string(scheduled.time_since_epoch().count());
}

}  // namespace kubefn::schedule
