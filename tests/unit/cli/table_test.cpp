#include "kubefn/cli/table.hpp"

#include <gtest/gtest.h>

namespace kubefn::cli {
namespace {

using std::chrono::seconds;

TEST(Table, ColumnsAlignWithoutTrailingBlanks) {
  const std::string table =
      format_table({"NAME", "READY", "AGE"}, {{"hello", "True", "5m"}, {"a-longer-name", "False"}});
  EXPECT_EQ(table,
            "NAME            READY   AGE\n"
            "hello           True    5m\n"
            "a-longer-name   False\n");
}

TEST(Table, HeaderOnly) {
  EXPECT_EQ(format_table({"A", "B"}, {}), "A   B\n");
}

TEST(Table, AgesLikeKubectl) {
  EXPECT_EQ(format_age(seconds(-3)), "0s");
  EXPECT_EQ(format_age(seconds(59)), "59s");
  EXPECT_EQ(format_age(seconds(119)), "119s");
  EXPECT_EQ(format_age(seconds(150)), "2m30s");
  EXPECT_EQ(format_age(seconds(45 * 60)), "45m");
  EXPECT_EQ(format_age(seconds(5 * 3600 + 120)), "5h2m");
  EXPECT_EQ(format_age(seconds(30 * 3600)), "30h");
  EXPECT_EQ(format_age(seconds(3 * 86400 + 3600)), "3d1h");
  EXPECT_EQ(format_age(seconds(40 * 86400)), "40d");
  EXPECT_EQ(format_age(seconds(800 * 86400)), "2y");
}

TEST(Table, Rfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:01:40Z"), 100);
  EXPECT_EQ(parse_rfc3339("2024-02-29T12:00:00Z"), 1709208000);
  EXPECT_FALSE(parse_rfc3339("yesterday").has_value());
  const auto now = std::chrono::system_clock::time_point(seconds(1709208000 + 90));
  EXPECT_EQ(age_since("2024-02-29T12:00:00Z", now), "90s");
  EXPECT_EQ(age_since("", now), "<unknown>");
}

}  // namespace
}  // namespace kubefn::cli
