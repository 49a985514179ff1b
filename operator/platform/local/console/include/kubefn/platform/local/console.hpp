// The console `kubefn up` serves on its metrics port: one page (its HTML, script and style,
// compiled into the binary from operator/platform/local/console/) that reads /api/v1/cost and
// /api/v1/history from the same server and draws them.
#pragma once

#include <span>
#include <string_view>

#include "kubefn/telemetry/health_server.hpp"

namespace kubefn::platform::local::console {

// One file of the console as built in.
struct Asset {
  std::string_view path;          // its route: "/" for index.html, else "/" + file
  std::string_view file;          // its name in the source tree
  std::string_view content_type;  // with charset for text
  std::string_view etag;          // quoted, from the file's SHA-256
  std::string_view body;
};

// Every file, index.html first.
std::span<const Asset> assets();

// "/", "/console.js" and "/console.css", each with its content type, Cache-Control: no-cache
// (the browser revalidates: a new build is seen at once), its ETag (so the revalidation is a
// 304) and a Content-Security-Policy that lets the page load nothing from anywhere else. The
// JSON API's routes are added to these by the caller.
telemetry::Routes routes();

}  // namespace kubefn::platform::local::console
