#include "kubefn/kube/token_source.hpp"

#include "file_text.hpp"

namespace kubefn::kube {

TokenSource::TokenSource(const ClientConfig& config, Clock& clock)
    : clock_(clock),
      fixed_(config.token),
      file_(config.token_file),
      reload_interval_(config.token_reload_interval) {}

Result<std::string> TokenSource::token() {
  if (file_.empty()) return fixed_;
  std::lock_guard guard(mutex_);
  const auto now = clock_.now();
  if (loaded_ && now - loaded_at_ < reload_interval_) return cached_;
  auto text = read_file_text(file_, "token");
  if (!text.ok()) {
    // Keep using the last good token if the file is briefly unreadable during rotation.
    if (loaded_) return cached_;
    return text.status();
  }
  cached_ = trim(*text);
  loaded_ = true;
  loaded_at_ = now;
  return cached_;
}

void TokenSource::invalidate() {
  std::lock_guard guard(mutex_);
  loaded_at_ = Clock::TimePoint{};
  if (loaded_) loaded_at_ = clock_.now() - reload_interval_;
}

}  // namespace kubefn::kube
