#include "http_client.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kubefn::emulator::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

template <class Stream>
Response exchange(Stream& stream, const std::string& method, const std::string& target,
                  const std::string& body, const RequestOptions& o) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, o.host);
  req.set(http::field::accept, o.accept);
  if (!body.empty()) req.set(http::field::content_type, o.content_type);
  if (!o.token.empty()) req.set(http::field::authorization, "Bearer " + o.token);
  req.keep_alive(false);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(stream, buffer, res, ec);
  if (ec && ec != http::error::end_of_stream) throw beast::system_error(ec);
  Response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
    if (name == "warning") out.warnings.emplace_back(f.value());
  }
  out.body = std::move(res.body());
  return out;
}

}  // namespace

HttpClient::HttpClient(uint16_t port, std::string ca_pem)
    : port_(port), ca_pem_(std::move(ca_pem)) {}

Response HttpClient::request(const std::string& method, const std::string& target,
                             const std::string& body, const RequestOptions& options) const {
  asio::io_context io;
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
  if (ca_pem_.empty()) {
    tcp::socket socket(io);
    socket.connect(ep);
    return exchange(socket, method, target, body, options);
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.add_certificate_authority(asio::buffer(ca_pem_));
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<tcp::socket> stream(io, ctx);
  stream.lowest_layer().connect(ep);
  stream.handshake(asio::ssl::stream_base::client);
  return exchange(stream, method, target, body, options);
}

WatchReader::WatchReader(uint16_t port, const std::string& target, const std::string& accept)
    : port_(port), thread_([this, target, accept] { run(target, accept); }) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(10), [&] { return opened_ || ended_; });
}

WatchReader::~WatchReader() {
  {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  thread_.join();
}

void WatchReader::run(const std::string& target, const std::string& accept) {
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  http::response_parser<http::string_body> parser;
  beast::flat_buffer buffer;
  if (!ec) {
    {
      std::lock_guard lock(mu_);
      fd_ = socket.native_handle();
    }
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, accept);
    http::write(socket, req, ec);
  }
  if (!ec) http::read_header(socket, buffer, parser, ec);
  {
    std::lock_guard lock(mu_);
    status_ = ec ? 0 : static_cast<int>(parser.get().result_int());
    opened_ = true;
  }
  cv_.notify_all();
  parser.body_limit(std::uint64_t{1} << 30);
  std::size_t consumed = 0;
  while (!ec && !parser.is_done()) {
    http::read_some(socket, buffer, parser, ec);
    auto& body = parser.get().body();
    std::size_t nl;
    while ((nl = body.find('\n', consumed)) != std::string::npos) {
      auto event = nlohmann::json::parse(body.substr(consumed, nl - consumed), nullptr, false);
      consumed = nl + 1;
      std::lock_guard lock(mu_);
      events_.push_back(std::move(event));
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mu_);
  fd_ = -1;
  ended_ = true;
  cv_.notify_all();
}

std::optional<nlohmann::json> WatchReader::next(std::chrono::milliseconds within) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, within, [&] { return !events_.empty() || ended_; });
  if (events_.empty()) return std::nullopt;
  auto e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool WatchReader::ended(std::chrono::milliseconds within) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, within, [&] { return ended_; });
}

}  // namespace kubefn::emulator::testing
