#include "kubefn/nats/message.hpp"

#include <gtest/gtest.h>

namespace kubefn::nats {
namespace {

TEST(Headers, LooksUpNamesWithoutRegardToCase) {
  Headers h;
  h.add("Nats-Msg-Id", "a");
  h.add("X-Many", "1");
  h.add("x-many", "2");
  EXPECT_EQ(h.get("nats-msg-id"), "a");
  EXPECT_EQ(h.get("NATS-MSG-ID"), "a");
  EXPECT_FALSE(h.get("Nats-Msg").has_value());
  EXPECT_EQ(h.get_all("X-MANY"), (std::vector<std::string_view>{"1", "2"}));
  h.set("x-Many", "3");
  EXPECT_EQ(h.get_all("x-many"), (std::vector<std::string_view>{"3"}));
  h.remove("NATS-msg-id");
  EXPECT_EQ(h.size(), 1u);
}

}  // namespace
}  // namespace kubefn::nats
