#include "kubefn/kafka/commit_tracker.hpp"

namespace kubefn::kafka {

bool CommitTracker::start(const TopicPartition& partition, std::int64_t offset) {
  if (offset < 0) return false;
  Partition& p = partitions_[partition];
  if (offset <= p.last_started) return false;
  p.started.emplace(offset, false);
  p.last_started = offset;
  ++p.unfinished;
  return true;
}

bool CommitTracker::finish(const TopicPartition& partition, std::int64_t offset) {
  auto found = partitions_.find(partition);
  if (found == partitions_.end()) return false;
  Partition& p = found->second;
  auto it = p.started.find(offset);
  if (it == p.started.end() || it->second) return false;
  it->second = true;
  --p.unfinished;
  while (!p.started.empty() && p.started.begin()->second) {
    p.done_upto = p.started.begin()->first + 1;
    p.started.erase(p.started.begin());
  }
  return true;
}

std::optional<PartitionOffset> CommitTracker::committable_of(const TopicPartition& tp,
                                                             const Partition& p) const {
  if (!p.done_upto || *p.done_upto <= p.committed) return std::nullopt;
  return PartitionOffset{tp, *p.done_upto};
}

std::vector<PartitionOffset> CommitTracker::committable() const {
  std::vector<PartitionOffset> out;
  for (const auto& [tp, p] : partitions_) {
    if (auto o = committable_of(tp, p)) out.push_back(std::move(*o));
  }
  return out;
}

std::vector<PartitionOffset> CommitTracker::committable(
    const std::vector<TopicPartition>& partitions) const {
  std::vector<PartitionOffset> out;
  for (const auto& [tp, p] : partitions_) {
    bool wanted = false;
    for (const auto& w : partitions)
      wanted = wanted || w == tp;
    if (!wanted) continue;
    if (auto o = committable_of(tp, p)) out.push_back(std::move(*o));
  }
  return out;
}

void CommitTracker::committed(const std::vector<PartitionOffset>& offsets) {
  for (const auto& o : offsets) {
    auto found = partitions_.find(o.partition);
    if (found == partitions_.end()) continue;
    if (o.offset > found->second.committed) found->second.committed = o.offset;
  }
}

void CommitTracker::forget(const TopicPartition& partition) {
  partitions_.erase(partition);
}

void CommitTracker::forget_all() {
  partitions_.clear();
}

std::size_t CommitTracker::in_flight(const TopicPartition& partition) const {
  auto found = partitions_.find(partition);
  return found == partitions_.end() ? 0 : found->second.unfinished;
}

std::size_t CommitTracker::in_flight() const {
  std::size_t n = 0;
  for (const auto& [tp, p] : partitions_)
    n += p.unfinished;
  return n;
}

}  // namespace kubefn::kafka
