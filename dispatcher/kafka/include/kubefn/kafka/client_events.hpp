// What a client reports besides the results of its calls.
#pragma once

#include <string_view>

#include "kubefn/kafka/status.hpp"

namespace kubefn::kafka {

class ClientEvents {
 public:
  virtual ~ClientEvents() = default;
  // An error librdkafka goes on from by itself (a broker down, a failed login, a commit that a
  // rebalance refused): for the log and a metric. On the polling thread (Consumer::poll) or the
  // producer's own thread.
  virtual void on_error(const Status& status) { (void)status; }
  // librdkafka's log lines, syslog levels (3 error, 4 warning, 6 info, 7 debug). On any thread.
  virtual void on_log(int level, std::string_view facility, std::string_view text) {
    (void)level, (void)facility, (void)text;
  }
};

}  // namespace kubefn::kafka
