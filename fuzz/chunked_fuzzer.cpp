// The chunked body decoder the request and response parsers share: the whole input at once
// and the same bytes arriving a few at a time must decode alike.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kubefn/http/request_parser.hpp"

namespace {

using kubefn::http::ChunkedDecoder;

void require(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  ChunkedDecoder::Step step;
  std::size_t end = 0;
  std::string body;
};

Outcome decode(std::string_view data, std::size_t step, std::size_t max_body,
               std::size_t max_trailers) {
  ChunkedDecoder d;
  d.reset(0);
  ChunkedDecoder::Step s = ChunkedDecoder::Step::kNeedMore;
  std::size_t fed = step == 0 ? data.size() : 0;
  for (;;) {
    if (step != 0) fed = std::min(data.size(), fed + step);
    s = d.decode(data.substr(0, fed), max_body, max_trailers);
    if (s != ChunkedDecoder::Step::kNeedMore || fed == data.size()) break;
  }
  Outcome out{s, 0, {}};
  if (s == ChunkedDecoder::Step::kDone) {
    out.end = d.end();
    require(out.end <= fed);
    require(d.body().size() <= max_body);
    out.body = d.body();
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t step = data[0] % 16;
  const std::size_t max_body = data[1] % 2 ? 64 : std::size_t{8} * 1024 * 1024;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  Outcome whole = decode(input, 0, max_body, 256);
  Outcome pieces = decode(input, step, max_body, 256);
  require(whole.step == pieces.step);
  require(whole.end == pieces.end);
  require(whole.body == pieces.body);
  return 0;
}
