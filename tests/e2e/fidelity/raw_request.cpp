#include "raw_request.hpp"

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {
namespace {

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// curl -D writes one header block per response it read (a 100 Continue, redirects); the last
// one is the answer.
void parse_headers(const std::string& text, RawResponse& r) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) continue;
    if (line.rfind("HTTP/", 0) == 0) {
      r.headers.clear();
      const auto sp = line.find(' ');
      r.status = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    r.headers.emplace_back(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
}

}  // namespace

std::vector<std::string> RawResponse::all(const std::string& lower_name) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : headers) {
    if (name == lower_name) out.push_back(value);
  }
  return out;
}

std::string RawResponse::header(const std::string& lower_name) const {
  auto values = all(lower_name);
  return values.empty() ? std::string() : values.front();
}

RawResponse send_raw(const RawServer& server, const RawRequest& request,
                     const std::string& scratch_dir) {
  static std::atomic<int> counter{0};
  const std::string stem = scratch_dir + "/req" + std::to_string(counter++);
  const std::string body_in = stem + ".in", body_out = stem + ".out", head_out = stem + ".head";
  std::vector<std::string> argv = {"curl", "--silent", "--show-error", "--http1.1", "--request",
                                   request.method, "--output", body_out, "--dump-header", head_out,
                                   "--user-agent", "kubefn-fidelity", "--max-time", "30",
                                   // No 100-continue round trip for larger bodies.
                                   "--header", "Expect:"};
  if (!server.cert_file.empty()) {
    argv.insert(argv.end(),
                {"--cacert", server.ca_file, "--cert", server.cert_file, "--key", server.key_file});
  }
  bool has_accept = false;
  for (const auto& h : request.headers) {
    if (lower(h).rfind("accept:", 0) == 0) has_accept = true;
    argv.insert(argv.end(), {"--header", h});
  }
  // curl's own default is */*; clients of the API ask for JSON.
  if (!has_accept) argv.insert(argv.end(), {"--header", "Accept: application/json"});
  if (!request.content_type.empty()) {
    argv.insert(argv.end(), {"--header", "Content-Type: " + request.content_type});
  }
  if (!request.body.empty()) {
    write_file(body_in, request.body);
    argv.insert(argv.end(), {"--data-binary", "@" + body_in});
  }
  argv.push_back(server.url + request.target);

  RawResponse r;
  auto run = run_command(argv, {}, std::chrono::seconds(40));
  if (run.exit_code != 0) {
    r.error = "curl exited " + std::to_string(run.exit_code) + ": " + run.err;
    return r;
  }
  parse_headers(read_file(head_out), r);
  r.body = std::filesystem::exists(body_out) ? read_file(body_out) : std::string();
  if (r.status == 0) r.error = "no status line in curl's header dump";
  return r;
}

}  // namespace kubefn::testing
