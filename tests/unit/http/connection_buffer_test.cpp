#include "kubefn/http/connection_buffer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace kubefn::http {
namespace {

// Writes `text` into the buffer's free space the way a socket read would.
void receive(ConnectionBuffer& b, std::string_view text) {
  ASSERT_LE(text.size(), b.space_size());
  std::memcpy(b.space(), text.data(), text.size());
  b.commit(text.size());
}

TEST(ConnectionBuffer, StartsEmptyAtItsInitialCapacity) {
  ConnectionBuffer b(16, 64);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_EQ(b.space_size(), 16u);
  EXPECT_EQ(b.initial(), 16u);
  EXPECT_EQ(b.cap(), 64u);
  EXPECT_FALSE(b.full());
}

TEST(ConnectionBuffer, CommittedBytesAreTheView) {
  ConnectionBuffer b(16, 64);
  receive(b, "GET / ");
  receive(b, "HTTP/1.1");
  EXPECT_EQ(b.view(), "GET / HTTP/1.1");
  EXPECT_EQ(b.data(), b.view().data());
  EXPECT_EQ(b.space_size(), 2u);
  b.commit(100);  // never past the end
  EXPECT_TRUE(b.full());
  EXPECT_EQ(b.size(), 16u);
}

TEST(ConnectionBuffer, GrowDoublesUpToTheCapAndKeepsTheData) {
  ConnectionBuffer b(16, 40);
  receive(b, std::string(16, 'a'));
  EXPECT_EQ(b.next_capacity(), 32u);
  ASSERT_TRUE(b.grow());
  EXPECT_EQ(b.capacity(), 32u);
  EXPECT_EQ(b.view(), std::string(16, 'a'));
  EXPECT_EQ(b.space_size(), 16u);
  EXPECT_EQ(b.next_capacity(), 40u);
  ASSERT_TRUE(b.grow());
  EXPECT_EQ(b.capacity(), 40u);
  EXPECT_TRUE(b.at_cap());
  EXPECT_EQ(b.next_capacity(), 40u);
  EXPECT_FALSE(b.grow());
  EXPECT_EQ(b.capacity(), 40u);
  EXPECT_EQ(b.view(), std::string(16, 'a'));
}

TEST(ConnectionBuffer, CapacityForIsWhereTheDoublingFirstHoldsTheNeed) {
  ConnectionBuffer b(16, 100);
  EXPECT_EQ(b.capacity_for(0), 16u);
  EXPECT_EQ(b.capacity_for(16), 16u);
  EXPECT_EQ(b.capacity_for(17), 32u);
  EXPECT_EQ(b.capacity_for(64), 64u);
  EXPECT_EQ(b.capacity_for(65), 100u);
  EXPECT_EQ(b.capacity_for(1000), 100u);  // never past the cap
}

TEST(ConnectionBuffer, CapBelowTheInitialSizeIsTheInitialSize) {
  ConnectionBuffer b(16, 4);
  EXPECT_EQ(b.cap(), 16u);
  EXPECT_TRUE(b.at_cap());
  EXPECT_FALSE(b.grow());
}

TEST(ConnectionBuffer, ConsumeMovesAPipelinedRequestToTheFront) {
  ConnectionBuffer b(32, 64);
  receive(b, "first|second");
  b.consume(0);
  EXPECT_EQ(b.view(), "first|second");
  b.consume(6);
  EXPECT_EQ(b.view(), "second");
  EXPECT_EQ(b.space_size(), 26u);
  b.consume(100);  // more than is there: all of it
  EXPECT_TRUE(b.empty());
}

TEST(ConnectionBuffer, ShrinkGoesBackToTheInitialCapacityWhenTheRestFits) {
  ConnectionBuffer b(16, 64);
  receive(b, std::string(16, 'a'));
  ASSERT_TRUE(b.grow());
  receive(b, "0123456789");
  // 26 bytes held: they do not fit in 16, so the capacity stays.
  EXPECT_FALSE(b.shrink());
  EXPECT_EQ(b.capacity(), 32u);
  b.consume(20);
  ASSERT_TRUE(b.shrink());
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_EQ(b.view(), "456789");
  EXPECT_FALSE(b.shrink());  // already there: nothing moves
}

TEST(ConnectionBuffer, ResetDropsTheDataAndTheGrowth) {
  ConnectionBuffer b(16, 64);
  receive(b, std::string(16, 'a'));
  ASSERT_TRUE(b.grow());
  receive(b, "more");
  EXPECT_TRUE(b.reset());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 16u);
  receive(b, "x");
  EXPECT_FALSE(b.reset());
  EXPECT_TRUE(b.empty());
}

TEST(ConnectionBuffer, ReadBufferCapHoldsTwoRequestsAndSlack) {
  EXPECT_EQ(read_buffer_cap(8192, 1048576), 2 * (8192 + 1048576) + 65536u);
  static_assert(read_buffer_cap(0, 0) == 65536);
}

}  // namespace
}  // namespace kubefn::http
