#include "platform_token.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <ostream>
#include <random>
#include <vector>

namespace kubefn::platform::local::detail {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_tokens(const std::string& path) {
  std::vector<std::string> tokens;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (!line.empty() && line[0] != '#') tokens.push_back(line);
  }
  return tokens;
}

std::string random_token() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 32; ++i)
    t += kHex[rd() % 16];
  return t;
}

}  // namespace

kube::Status write_private_file(const fs::path& path, const std::string& text) {
  const std::string tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot create " + tmp + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  int error = 0;
  while (done < text.size() && error == 0) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      error = errno;
    }
  }
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot write " + tmp + ": " + std::strerror(error));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return kube::Status(kube::StatusCode::kInternalError,
                        "cannot rename " + tmp + " to " + path.string() + ": " + std::strerror(e));
  }
  return kube::Status();
}

kube::Result<std::string> platform_token(const fs::path& path, std::ostream& err) {
  const std::vector<std::string> kept = read_tokens(path.string());
  if (!kept.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      if (::chmod(path.c_str(), 0600) != 0) {
        return kube::Status(kube::StatusCode::kInternalError,
                            "cannot make " + path.string() + " private: " + std::strerror(errno));
      }
      err << "kubefn up: " << path.string() << " was readable by others; it is now 0600\n";
    }
    return kept.front();
  }
  std::string token = random_token();
  if (kube::Status s = write_private_file(path, token + "\n"); !s.ok()) return s;
  return token;
}

}  // namespace kubefn::platform::local::detail
