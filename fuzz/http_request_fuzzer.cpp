// The runtime's (and the gateway's) HTTP/1.1 request parser, fed a stream of requests: parsed
// whole, then again in two pieces, which must come to the same result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kubefn/http/request_parser.hpp"

namespace {

using kubefn::http::HttpLimits;
using kubefn::http::HttpRequest;
using kubefn::http::HttpRequestParser;
using kubefn::http::ParseState;

void require(bool ok) {
  if (!ok) std::abort();
}

bool within(std::string_view view, std::string_view data) {
  return view.empty() ||
         (view.data() >= data.data() && view.data() + view.size() <= data.data() + data.size());
}

// Every view of the request points into the wire (or, for a de-chunked body and a rebuilt
// origin-form target, into storage the parser owns).
void check_request(const HttpRequest& req, std::string_view wire) {
  require(within(req.method, wire));
  // An absolute-form target without a path ("http://h?q") is rebuilt as "/?q" by the parser.
  require(!req.target.empty());
  require(within(req.path, wire) || req.path == "/");
  require(within(req.query, wire) || within(req.query, req.target));
  require(req.target.front() == '/' || req.target == "*");
  require(within(req.host, wire));
  for (const auto& h : req.headers) {
    require(within(h.name, wire));
    require(!h.name.empty());
    for (char c : h.name)
      require(!(c >= 'A' && c <= 'Z'));
  }
  int hosts = 0;
  for (const auto& h : req.headers)
    hosts += h.name == "host" ? 1 : 0;
  require(hosts <= 1);
  if (req.version_minor >= 1) require(hosts == 1);
}

struct Outcome {
  ParseState state = ParseState::kNeedMore;
  int status = 0;
  std::size_t consumed = 0;
  std::string body;
  std::string path;
  std::string query;
  std::string host;
};

// Parses the request at the start of `wire`, fed whole or first `split` bytes then all.
Outcome parse_one(std::string& wire, std::size_t split, const HttpLimits& limits) {
  HttpRequestParser parser(limits);
  ParseState st = ParseState::kNeedMore;
  if (split > 0 && split < wire.size()) {
    st = parser.parse(std::string_view(wire.data(), split));
    if (st == ParseState::kComplete) require(parser.consumed() <= split);
  }
  if (st != ParseState::kComplete && st != ParseState::kError) st = parser.parse(wire);
  Outcome out;
  out.state = st;
  out.status = parser.error_status();
  if (st == ParseState::kError) {
    require(out.status >= 400 && out.status <= 505);
    require(!parser.error_reason().empty());
  }
  if (st == ParseState::kComplete) {
    const HttpRequest& req = parser.request();
    check_request(req, wire);
    out.consumed = parser.consumed();
    require(out.consumed > 0 && out.consumed <= wire.size());
    out.body.assign(req.body);
    require(out.body.size() <= limits.max_body_bytes);
    out.path.assign(req.path);
    out.query.assign(req.query);
    out.host.assign(req.host);
  }
  return out;
}

void run(std::string_view input, std::size_t split, const HttpLimits& limits) {
  // Pipelined requests: each parsed from where the last one ended.
  std::string rest(input);
  for (int i = 0; i < 8 && !rest.empty(); ++i) {
    std::string whole = rest;
    std::string pieces = rest;
    Outcome a = parse_one(whole, 0, limits);
    Outcome b = parse_one(pieces, split % (rest.size() + 1), limits);
    // Where the bytes break must not change the outcome.
    require(a.state == b.state);
    if (a.state == ParseState::kComplete) {
      require(a.consumed == b.consumed);
      require(a.body == b.body && a.path == b.path && a.query == b.query && a.host == b.host);
    }
    if (a.state == ParseState::kError) require(a.status == b.status);
    if (a.state != ParseState::kComplete) return;
    rest.erase(0, a.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t split = data[0];
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  run(input, split, HttpLimits{});
  // Small limits, so that inputs of a few hundred bytes reach every limit.
  HttpLimits small;
  small.max_header_bytes = 256;
  small.max_headers = 8;
  small.max_body_bytes = 64;
  run(input, split, small);
  return 0;
}
