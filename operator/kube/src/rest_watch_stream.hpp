#pragma once

#include <memory>

#include "http_transport.hpp"
#include "kubefn/kube/watch_stream.hpp"

namespace kubefn::kube {

// Watch events decoded from a streamed response, one JSON object per line.
class RestWatchStream final : public WatchStream {
 public:
  explicit RestWatchStream(std::unique_ptr<HttpLineReader> reader) : reader_(std::move(reader)) {}
  ~RestWatchStream() override { reader_->cancel(); }

  Result<std::optional<WatchEvent>> next() override {
    while (true) {
      auto line = reader_->next_line();
      if (!line.ok()) return line.status();
      if (!line->has_value()) return std::optional<WatchEvent>();
      if ((*line)->find_first_not_of(" \t\r") == std::string::npos) continue;
      auto event = parse_watch_event(**line);
      if (!event.ok()) return event.status();
      return std::optional<WatchEvent>(std::move(*event));
    }
  }

  void cancel() override { reader_->cancel(); }

 private:
  std::unique_ptr<HttpLineReader> reader_;
};

}  // namespace kubefn::kube
