#include "kubefn/testing/fakes/captured_log.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <stdexcept>

namespace kubefn::testing {

CapturedLog::CapturedLog() : fd_(memfd_create("kubefn-test-log", MFD_CLOEXEC)) {
  if (fd_ < 0) throw std::runtime_error("memfd_create failed");
  // Every line written at once, so lines() sees it as soon as it was logged.
  writer_ = std::make_unique<telemetry::LineWriter>(fd_, 0);
}

CapturedLog::~CapturedLog() {
  writer_.reset();
  ::close(fd_);
}

std::vector<std::string> CapturedLog::lines() const {
  // pread leaves the writer's offset where it is.
  std::string text;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd_, buf, sizeof buf, at);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    at += n;
  }
  std::vector<std::string> out;
  for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
       start = end + 1) {
    out.push_back(text.substr(start, end - start));
  }
  return out;
}

}  // namespace kubefn::testing
