#include "kubefn/http/chunked.hpp"

#include <charconv>

namespace kubefn::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxSizeLine = 1024;  // a chunk size line, extensions included

}  // namespace

ChunkedDecoder::Step ChunkedDecoder::decode(std::string_view data, std::size_t max_body,
                                            std::size_t max_trailers) {
  for (;;) {
    std::string_view rest = data.substr(pos_);
    std::size_t eol = rest.find(kCrlf);
    if (eol == std::string_view::npos) {
      return rest.size() > kMaxSizeLine ? Step::kMalformed : Step::kNeedMore;
    }
    // The same limit whether the line arrived in one read or in several (above).
    if (eol + 1 > kMaxSizeLine) return Step::kMalformed;
    std::string_view size_line = rest.substr(0, eol);
    std::string_view hex = trim_ows(size_line.substr(0, size_line.find(';')));  // no extensions
    std::size_t size = 0;
    auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
    if (hex.empty() || ec != std::errc() || ptr != hex.data() + hex.size()) return Step::kMalformed;
    if (size == 0) {
      // Last chunk, then optional trailer fields, then an empty line.
      std::size_t trailers = pos_ + eol + 2;
      std::string_view tail = data.substr(trailers);
      if (tail.substr(0, 2) == kCrlf) {
        end_ = trailers + 2;
        return Step::kDone;
      }
      std::size_t t = tail.find("\r\n\r\n");
      if (t == std::string_view::npos) {
        return tail.size() > max_trailers ? Step::kTrailersTooLarge : Step::kNeedMore;
      }
      // Also when they all came at once: the limit must not depend on how bytes arrive.
      if (t + 3 > max_trailers) return Step::kTrailersTooLarge;
      end_ = trailers + t + 4;
      return Step::kDone;
    }
    if (size > max_body || body_.size() + size > max_body) return Step::kTooLarge;
    std::size_t need = eol + 2 + size + 2;
    if (rest.size() < need) return Step::kNeedMore;
    if (rest.substr(eol + 2 + size, 2) != kCrlf) return Step::kMalformed;
    body_.append(rest.substr(eol + 2, size));
    pos_ += need;
  }
}

}  // namespace kubefn::http
