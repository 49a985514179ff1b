#pragma once

#include <mutex>
#include <string>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

// The bearer token to send. A fixed token never changes; a token file (projected service
// account tokens rotate) is re-read once the reload interval has passed or after invalidate().
class TokenSource {
 public:
  TokenSource(const ClientConfig& config, Clock& clock);

  // The current token, or "" when the config has none.
  Result<std::string> token();
  // Called after a 401: the next token() re-reads the file.
  void invalidate();
  bool reloadable() const { return !file_.empty(); }

 private:
  Clock& clock_;
  const std::string fixed_;
  const std::string file_;
  const Clock::Duration reload_interval_;
  std::mutex mutex_;
  std::string cached_;
  bool loaded_ = false;
  Clock::TimePoint loaded_at_{};
};

}  // namespace kubefn::kube
