#include "kubefn/http/response.hpp"

#include <gtest/gtest.h>

namespace kubefn::http {
namespace {

TEST(HttpResponse, HeadCarriesLengthDateAndHandlerHeaders) {
  std::string head;
  append_response_head(head, 201, 5, {{"content-type", "text/plain"}, {"x-id", "7"}}, false, false);
  EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\ncontent-length: 5\r\ndate: ", 0), 0u);
  EXPECT_NE(head.find("\r\nx-id: 7\r\n"), std::string::npos);
  EXPECT_EQ(head.find("connection:"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(HttpResponse, TheExecutionHeaderIsTheServersOnly) {
  std::string head;
  append_response_head(head, 200, 2, {{"Kubefn-Execution-Ns", "1"}, {"x-id", "7"}}, false, false,
                       1234567);
  EXPECT_EQ(head.find("Kubefn-Execution-Ns"), std::string::npos);
  EXPECT_EQ(head.find(": 1\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nkubefn-execution-ns: 1234567\r\n"), std::string::npos);
  std::string without;
  append_response_head(without, 200, 2, {}, false, false);
  EXPECT_EQ(without.find("kubefn-execution-ns"), std::string::npos);
}

TEST(HttpResponse, RuntimeOwnedHeadersFromTheHandlerAreDropped) {
  std::string head;
  append_response_head(head, 200, 2,
                       {{"Content-Length", "999"},
                        {"Transfer-Encoding", "chunked"},
                        {"Connection", "upgrade"},
                        {"Date", "yesterday"}},
                       true, false);
  EXPECT_EQ(head.find("999"), std::string::npos);
  EXPECT_EQ(head.find("chunked"), std::string::npos);
  EXPECT_EQ(head.find("upgrade"), std::string::npos);
  EXPECT_EQ(head.find("yesterday"), std::string::npos);
  EXPECT_NE(head.find("connection: close\r\n"), std::string::npos);
}

TEST(HttpResponse, Http10KeepAliveIsAnnounced) {
  std::string r = simple_response(200, "text/plain", "ok", false, true);
  EXPECT_NE(r.find("connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 2), "ok");
}

// RFC 9110 sections 6.4.1 and 8.6: no content in 1xx, 204 and 304 responses, and no
// Content-Length in 204 ones (nor in a 304, whose length the runtime cannot know).
TEST(HttpResponse, NoContentStatusesCarryNoLength) {
  EXPECT_FALSE(status_has_body(204));
  EXPECT_FALSE(status_has_body(304));
  EXPECT_FALSE(status_has_body(100));
  EXPECT_TRUE(status_has_body(200));
  EXPECT_TRUE(status_has_body(404));
  for (int status : {204, 304}) {
    std::string head;
    append_response_head(head, status, 6, {{"content-type", "text/plain"}}, false, false);
    EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
    EXPECT_NE(head.find("content-type: text/plain\r\n"), std::string::npos) << head;
  }
  std::string ok;
  append_response_head(ok, 200, 0, {}, false, false);
  EXPECT_NE(ok.find("content-length: 0\r\n"), std::string::npos);
}

TEST(HttpResponse, ReasonPhrases) {
  EXPECT_EQ(reason_phrase(408), "Request Timeout");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(299), "Status");
}

}  // namespace
}  // namespace kubefn::http
