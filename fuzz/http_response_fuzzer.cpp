// The gateway's parser of upstream responses: a response (or a run of them, as a kept-alive
// upstream connection carries) parsed whole and in two pieces, then ended by EOF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kubefn/gateway/http_proxy.hpp"
#include "kubefn/http/response_parser.hpp"

namespace {

using kubefn::http::HttpResponseParser;
using kubefn::http::ResponseState;

void require(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  ResponseState state = ResponseState::kNeedMore;
  int status = 0;
  std::size_t consumed = 0;
  std::string body;
  bool keep_alive = false;
};

Outcome parse(std::string& wire, std::size_t split, bool head, bool eof, std::size_t max_body) {
  HttpResponseParser parser(max_body, 512);
  parser.reset(head);
  ResponseState st = ResponseState::kNeedMore;
  if (split > 0 && split < wire.size()) st = parser.parse(std::string_view(wire.data(), split));
  if (st == ResponseState::kNeedMore) st = parser.parse(wire);
  if (st == ResponseState::kNeedMore && eof) st = parser.finish_at_eof(wire);
  Outcome out;
  out.state = st;
  if (st == ResponseState::kError) require(!parser.error().empty());
  if (st == ResponseState::kComplete) {
    out.status = parser.status();
    require(out.status >= 200 && out.status <= 999);
    out.consumed = parser.consumed();
    require(out.consumed <= wire.size());
    require(parser.body().size() <= max_body);
    out.body.assign(parser.body());
    out.keep_alive = parser.keep_alive();
    for (const auto& h : parser.headers()) {
      require(!h.name.empty());
      for (char c : h.name)
        require(!(c >= 'A' && c <= 'Z'));
    }
    std::string head_out;
    kubefn::gateway::build_client_response_head(head_out, parser, out.body.size(), !out.keep_alive,
                                                false);
    require(head_out.size() >= 4 && head_out.compare(head_out.size() - 4, 4, "\r\n\r\n") == 0);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t split = data[0];
  const bool head = data[1] & 1;
  const bool eof = data[1] & 2;
  const std::size_t max_body = data[1] & 4 ? 64 : std::size_t{64} * 1024 * 1024;
  std::string rest(reinterpret_cast<const char*>(data) + 2, size - 2);
  for (int i = 0; i < 4 && !rest.empty(); ++i) {
    std::string whole = rest;
    std::string pieces = rest;
    Outcome a = parse(whole, 0, head, eof, max_body);
    Outcome b = parse(pieces, split % (rest.size() + 1), head, eof, max_body);
    require(a.state == b.state);
    if (a.state != ResponseState::kComplete) return 0;
    require(a.status == b.status && a.consumed == b.consumed && a.body == b.body &&
            a.keep_alive == b.keep_alive);
    if (!a.keep_alive || a.consumed == 0) return 0;
    rest.erase(0, a.consumed);
  }
  return 0;
}
