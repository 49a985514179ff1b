#pragma once

// `kubefn up`'s secrets on disk: the platform token ($KUBEFN_HOME/token) and the files that
// hold it (private to the module).

#include <filesystem>
#include <iosfwd>
#include <string>

#include "kubefn/kube/result.hpp"

namespace kubefn::platform::local::detail {

// Puts `text` at `path`, readable and writable by this user only from its first instant: a
// fresh file made with mode 0600 beside it (never one that exists, never through a link), then
// renamed over `path`, so a reader sees the old file or the whole new one.
kube::Status write_private_file(const std::filesystem::path& path, const std::string& text);

// The platform token in `path` (its first line that is not blank or a # comment), made (32 hex
// digits, mode 0600) when there is none. One that others may read is made private first, and
// `err` says so.
kube::Result<std::string> platform_token(const std::filesystem::path& path, std::ostream& err);

}  // namespace kubefn::platform::local::detail
