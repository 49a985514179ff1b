#include "kubefn/builder/dependencies.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "kubefn/builder/process.hpp"

namespace kubefn::builder {

namespace fs = std::filesystem;
using kube::Status;
using kube::StatusCode;

namespace {

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string w;
  while (in >> w)
    out.push_back(w);
  return out;
}

std::string first_line(const std::string& text) {
  auto s = text.substr(0, text.find('\n'));
  return s.size() > 300 ? s.substr(0, 300) : s;
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

bool valid_package_name(const std::string& name) {
  if (name.size() < 2 || name.size() > 128) return false;
  auto c0 = name[0];
  if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= '0' && c0 <= '9'))) return false;
  bool arch = false;
  for (char c : name) {
    if (c == ':') {
      if (arch) return false;
      arch = true;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return name.back() != ':';
}

kube::Result<std::vector<std::string>> missing_packages(const std::vector<std::string>& packages) {
  std::vector<std::string> missing;
  for (const auto& p : packages) {
    if (!valid_package_name(p)) {
      return Status(StatusCode::kInvalid, "\"" + p + "\" is not a Debian package name");
    }
    auto r = run_process({"dpkg-query", "-W", "-f=${db:Status-Status}", p});
    if (r.exit_code != 0 || r.out != "installed") missing.push_back(p);
  }
  return missing;
}

kube::Status ensure_packages(const std::vector<std::string>& packages, bool install) {
  auto missing = missing_packages(packages);
  if (!missing.ok()) return missing.status();
  if (missing->empty()) return {};
  std::string names;
  for (const auto& m : *missing)
    names += (names.empty() ? "" : " ") + m;
  if (!install) {
    // A build Job installs nothing: the packages a build may use are the builder image's.
    std::string listed;
    for (const auto& m : *missing)
      listed += (listed.empty() ? "" : ", ") + m;
    const bool one = missing->size() == 1;
    return Status(StatusCode::kInvalid,
                  (one ? "package " : "packages ") + listed + (one ? " is" : " are") +
                      " not installed in the builder image; remove " + (one ? "it" : "them") +
                      " from spec.dependencies, or build with a builder image that has " +
                      (one ? "it" : "them") +
                      " (the operator's --builder-image; for kubefn up, install " +
                      (one ? "it" : "them") + " on this machine)");
  }
  std::vector<std::string> env = {"DEBIAN_FRONTEND=noninteractive"};
  std::vector<std::string> argv = {"apt-get", "install", "-y", "--no-install-recommends", "-q"};
  argv.insert(argv.end(), missing->begin(), missing->end());
  auto r = run_process(argv, {}, env);
  if (r.exit_code != 0) {
    // An image built with cleaned package lists needs one update first.
    auto u = run_process({"apt-get", "update", "-q"}, {}, env);
    if (u.exit_code == 0) r = run_process(argv, {}, env);
  }
  if (r.exit_code != 0) {
    std::string err = r.err;
    std::string last;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("E:")) last = line;
    return Status(StatusCode::kInvalid,
                  "cannot install " + names + ": " + (last.empty() ? first_line(err) : last));
  }
  return {};
}

PackageFiles classify_package_files(const std::vector<std::string>& files) {
  PackageFiles out;
  for (const auto& f : files) {
    fs::path p(f);
    std::string name = p.filename().string();
    std::string dir = p.parent_path().string();
    if (name.ends_with(".pc") && dir.ends_with("/pkgconfig")) {
      add_unique(out.pc_modules, name.substr(0, name.size() - 3));
      add_unique(out.pc_dirs, dir);
    } else if (name.starts_with("lib") && name.ends_with(".so") && name.size() > 6 &&
               (dir.starts_with("/usr/lib") || dir.starts_with("/lib"))) {
      add_unique(out.library_flags, "-l" + name.substr(3, name.size() - 6));
    }
  }
  return out;
}

kube::Result<DependencyFlags> dependency_flags(const std::string& package) {
  if (!valid_package_name(package)) {
    return Status(StatusCode::kInvalid, "\"" + package + "\" is not a Debian package name");
  }
  auto listing = run_process({"dpkg", "-L", package});
  if (listing.exit_code != 0) {
    return Status(StatusCode::kNotFound,
                  "dependency " + package + " is not installed: " + first_line(listing.err));
  }
  std::vector<std::string> files;
  std::istringstream in(listing.out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) files.push_back(line);
  PackageFiles pf = classify_package_files(files);
  DependencyFlags flags;
  if (!pf.pc_modules.empty()) {
    std::string path;
    for (const auto& d : pf.pc_dirs)
      path += (path.empty() ? "" : ":") + d;
    std::vector<std::string> argv = {"pkg-config", "--cflags", "--libs"};
    argv.insert(argv.end(), pf.pc_modules.begin(), pf.pc_modules.end());
    auto r = run_process(argv, {}, {"PKG_CONFIG_PATH=" + path});
    if (r.exit_code != 0) {
      return Status(StatusCode::kInvalid,
                    "pkg-config failed for " + package + ": " + first_line(r.err));
    }
    for (auto& w : split_words(r.out)) {
      if (w.starts_with("-l") || w.starts_with("-L") || w.starts_with("-Wl,") ||
          w.starts_with("-pthread")) {
        add_unique(flags.libs, w);
      } else {
        add_unique(flags.cflags, w);
      }
    }
    return flags;
  }
  flags.libs = pf.library_flags;
  return flags;
}

}  // namespace kubefn::builder
