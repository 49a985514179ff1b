// The console's routes as a HealthServer serves them: the files of operator/platform/local/console
// byte for byte, with their content types, no-cache, an ETag that revalidates to 304, and a page
// that names no resource outside this server.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>

#include "kubefn/platform/local/console.hpp"
#include "kubefn/telemetry/health_server.hpp"
#include "kubefn/testing/http_client.hpp"

namespace kubefn::platform::local::console {
namespace {

using kubefn::testing::http_request;

std::string source(const std::string& file) {
  std::ifstream in(std::string(KUBEFN_CONSOLE_DIR) + "/" + file, std::ios::binary);
  EXPECT_TRUE(in.good()) << file;
  return {std::istreambuf_iterator<char>(in), {}};
}

class ConsoleRoutes : public ::testing::Test {
 protected:
  prometheus::Registry registry;
  telemetry::HealthServer server{"127.0.0.1", 0, registry, [] { return true; }, {}, routes()};
};

TEST_F(ConsoleRoutes, ServeTheFilesOfTheSourceTreeWithTheirTypes) {
  const std::pair<const char*, const char*> files[] = {
      {"/", "index.html"}, {"/console.js", "console.js"}, {"/console.css", "console.css"}};
  const std::map<std::string, std::string> types = {
      {"/", "text/html; charset=utf-8"},
      {"/console.js", "text/javascript; charset=utf-8"},
      {"/console.css", "text/css; charset=utf-8"}};
  std::set<std::string> etags;
  for (const auto& [path, file] : files) {
    auto reply = http_request(server.port(), "GET", path);
    ASSERT_TRUE(reply.has_value()) << path;
    EXPECT_EQ(reply->status, 200) << path;
    EXPECT_EQ(reply->header("content-type"), types.at(path)) << path;
    EXPECT_EQ(reply->header("cache-control"), "no-cache") << path;
    EXPECT_EQ(reply->header("x-content-type-options"), "nosniff") << path;
    EXPECT_NE(reply->header("content-security-policy").find("default-src 'none'"),
              std::string::npos)
        << path;
    EXPECT_TRUE(reply->body == source(file)) << path << ": not the file of the source tree";
    const std::string etag = reply->header("etag");
    EXPECT_TRUE(std::regex_match(etag, std::regex("\"[0-9a-f]{20}\""))) << path << ": " << etag;
    etags.insert(etag);

    auto again = http_request(server.port(), "GET", path, "", {{"If-None-Match", etag}});
    ASSERT_TRUE(again.has_value()) << path;
    EXPECT_EQ(again->status, 304) << path;
    EXPECT_EQ(again->body, "") << path;
  }
  EXPECT_EQ(etags.size(), 3u) << "each file has its own ETag";
  EXPECT_EQ(assets().front().path, "/");
  EXPECT_EQ(routes().size(), 3u);
}

TEST_F(ConsoleRoutes, ThePageLoadsNothingFromElsewhere) {
  const std::string page = source("index.html");
  const std::string script = source("console.js");
  const std::string style = source("console.css");
  // No src or href leaves the server (the SVG namespace is a name, not a fetch).
  const std::regex external(R"((src|href)\s*=\s*"(https?:)?//)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, external));
  EXPECT_FALSE(std::regex_search(script, std::regex(R"(import\s[^;]*from\s*['"](https?:)?//)")));
  EXPECT_FALSE(std::regex_search(script, std::regex(R"(fetch\(\s*[`'"](https?:)?//)")));
  EXPECT_FALSE(std::regex_search(style, std::regex(R"(url\(|@import)")));
  // What it reads, it reads from this server, relative to the page.
  EXPECT_NE(script.find("`api/v1/cost?since=${since}`"), std::string::npos);
  EXPECT_NE(script.find("`api/v1/history?since=${since}`"), std::string::npos);
  EXPECT_NE(page.find(R"(<script type="module" src="console.js">)"), std::string::npos);
  EXPECT_NE(page.find(R"(<link rel="stylesheet" href="console.css">)"), std::string::npos);
}

TEST_F(ConsoleRoutes, OtherPathsAreNotTheConsole) {
  for (const char* path : {"/index.html", "/console", "/console.js/", "/api/v1/cost"}) {
    auto reply = http_request(server.port(), "GET", path);
    ASSERT_TRUE(reply.has_value()) << path;
    EXPECT_EQ(reply->status, 404) << path;
  }
  auto post = http_request(server.port(), "POST", "/", "x");
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 405);
}

}  // namespace
}  // namespace kubefn::platform::local::console
