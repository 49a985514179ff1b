#include "kubefn/http/connection_buffer.hpp"

#include <algorithm>
#include <cstring>

namespace kubefn::http {
namespace {

// Storage for `n` bytes, left uninitialized: only what is read into it is ever looked at.
std::unique_ptr<char[]> allocate(std::size_t n) {
  return std::unique_ptr<char[]>(new char[std::max<std::size_t>(n, 1)]);
}

}  // namespace

ConnectionBuffer::ConnectionBuffer(std::size_t initial, std::size_t cap)
    : data_(allocate(initial)),
      capacity_(initial),
      initial_(initial),
      cap_(std::max(cap, initial)) {}

std::size_t ConnectionBuffer::next_capacity() const {
  if (capacity_ >= cap_) return capacity_;
  return std::min(cap_, std::max<std::size_t>(capacity_ * 2, 1));
}

std::size_t ConnectionBuffer::capacity_for(std::size_t need) const {
  std::size_t size = capacity_;
  while (size < need && size < cap_)
    size = std::min(cap_, std::max<std::size_t>(size * 2, 1));
  return size;
}

bool ConnectionBuffer::grow() {
  if (capacity_ >= cap_) return false;
  const std::size_t next = next_capacity();
  auto bigger = allocate(next);
  if (len_ > 0) std::memcpy(bigger.get(), data_.get(), len_);
  data_ = std::move(bigger);
  capacity_ = next;
  return true;
}

void ConnectionBuffer::move_to_front(std::size_t n) {
  std::memmove(data_.get(), data_.get() + n, len_ - n);
  len_ -= n;
}

bool ConnectionBuffer::reallocate_initial() {
  auto smaller = allocate(initial_);
  if (len_ > 0) std::memcpy(smaller.get(), data_.get(), len_);
  data_ = std::move(smaller);
  capacity_ = initial_;
  return true;
}

bool ConnectionBuffer::reset() {
  len_ = 0;
  return shrink();
}

}  // namespace kubefn::http
