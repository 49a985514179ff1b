// A telemetry::LineWriter whose lines a test reads back: it writes to an in-memory file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kubefn/telemetry/json_log.hpp"

namespace kubefn::testing {

class CapturedLog {
 public:
  CapturedLog();
  ~CapturedLog();
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  // What the code under test writes to.
  telemetry::LineWriter& writer() { return *writer_; }
  // Every whole line written so far, without its '\n'.
  std::vector<std::string> lines() const;

 private:
  int fd_ = -1;
  std::unique_ptr<telemetry::LineWriter> writer_;
};

}  // namespace kubefn::testing
