#include "kubefn/kafka/message.hpp"

#include "kubefn/kafka/topic_partition.hpp"

namespace kubefn::kafka {

std::string TopicPartition::to_string() const {
  return topic + "[" + std::to_string(partition) + "]";
}

const Header* Message::header(const std::string& key) const {
  for (const auto& h : headers) {
    if (h.key == key) return &h;
  }
  return nullptr;
}

}  // namespace kubefn::kafka
