// The read buffer of one HTTP/1.1 connection: the bytes received and not yet consumed, in one
// contiguous block the request parser reads in place. It starts at an initial size, doubles
// up to a cap while a large request arrives, drops what a served request took (moving a
// pipelined request that follows it to the front) and goes back to its initial size between
// requests, so an idle keep-alive connection holds no more than that.
//
// Reading is the caller's: read into space() (space_size() bytes), then commit() what came.
// Nothing here allocates except grow(), shrink() and reset(), and none of them per request
// unless the request outgrew the initial size.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace kubefn::http {

// The cap of a connection's read buffer for requests of at most `head_bytes` of head and
// `body_bytes` of body: twice the largest request, so that one whole request and the start of
// a pipelined one fit, plus 64 KiB.
constexpr std::size_t read_buffer_cap(std::size_t head_bytes, std::size_t body_bytes) {
  return 2 * (head_bytes + body_bytes) + std::size_t{64} * 1024;
}

class ConnectionBuffer {
 public:
  // Allocates `initial` bytes; grow() stops at `cap` (at least `initial`).
  ConnectionBuffer(std::size_t initial, std::size_t cap);
  ConnectionBuffer(const ConnectionBuffer&) = delete;
  ConnectionBuffer& operator=(const ConnectionBuffer&) = delete;

  // What was received and not consumed yet. Views into it stay valid until grow(), shrink(),
  // consume() or reset() move the bytes.
  std::string_view view() const { return std::string_view(data_.get(), len_); }
  const char* data() const { return data_.get(); }
  std::size_t size() const { return len_; }
  bool empty() const { return len_ == 0; }

  // The bytes allocated (the buffer's memory, for accounting).
  std::size_t capacity() const { return capacity_; }
  std::size_t initial() const { return initial_; }
  std::size_t cap() const { return cap_; }

  // The free space after the data, to read into; commit(n) once n bytes were written there.
  char* space() { return data_.get() + len_; }
  std::size_t space_size() const { return capacity_ - len_; }
  void commit(std::size_t n) { len_ += n < space_size() ? n : space_size(); }
  bool full() const { return len_ == capacity_; }

  // What grow() would take the capacity to (the capacity itself at the cap), and the first
  // capacity the doubling reaches that holds `need` bytes (at most the cap).
  std::size_t next_capacity() const;
  std::size_t capacity_for(std::size_t need) const;
  bool at_cap() const { return capacity_ >= cap_; }

  // Doubles the capacity, up to the cap; false (and nothing changes) when already at the cap.
  // The data moves: views into it (a parser's) must be taken again.
  bool grow();

  // Drops the first `n` bytes (a served request; all of them when n is larger), moving what
  // follows (a pipelined request) to the front.
  void consume(std::size_t n) {
    if (n >= len_) {
      len_ = 0;
    } else if (n > 0) {
      move_to_front(n);
    }
  }

  // Between requests: back to the initial capacity when the data fits in it. True when the
  // storage changed (the data moved).
  bool shrink() { return capacity_ > initial_ && len_ <= initial_ && reallocate_initial(); }

  // Drops the data; the capacity goes back to the initial one. True when the storage changed.
  bool reset();

 private:
  void move_to_front(std::size_t n);
  bool reallocate_initial();

  std::unique_ptr<char[]> data_;
  std::size_t len_ = 0;
  std::size_t capacity_ = 0;
  std::size_t initial_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace kubefn::http
