// pods/<name>/log: the text a test gave the emulator (it runs no kubelet), behind the API
// server's own checks of the pod and the container, with tailLines and limitBytes.

#include "emulator_fixture.hpp"

namespace kubefn::emulator::testing {
namespace {

using nlohmann::json;

inline const char kPods[] = "/api/v1/namespaces/default/pods";

json pod(const std::string& name, const std::string& node) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"containers", json::array({{{"name", "function"}, {"image", "r/fn:1"}},
                                          {{"name", "side"}, {"image", "r/side:1"}}})}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

class PodLogTest : public EmulatorTest {
 protected:
  HttpReply log(const std::string& pod, const std::string& query) {
    return http_.get(std::string(kPods) + "/" + pod + "/log" + query);
  }
};

TEST_F(PodLogTest, ServesWhatWasSetWithTailLinesAndLimitBytes) {
  create(kPods, pod("web-1", "node-a"));
  emu_.set_pod_log("default", "web-1", "function", "one\ntwo\nthree\n", true);
  emu_.set_pod_log("default", "web-1", "function", "now\n");
  auto whole = log("web-1", "?container=function&previous=true");
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(whole.body, "one\ntwo\nthree\n");
  EXPECT_EQ(whole.header("content-type"), "text/plain");
  EXPECT_EQ(log("web-1", "?container=function&previous=true&tailLines=2").body, "two\nthree\n");
  EXPECT_EQ(log("web-1", "?container=function&previous=true&tailLines=9").body,
            "one\ntwo\nthree\n");
  EXPECT_EQ(log("web-1", "?container=function&previous=true&tailLines=2&limitBytes=5").body,
            "two\nt");
  EXPECT_EQ(log("web-1", "?container=function").body, "now\n");
  // A container never given a log has an empty one; its previous instance does not exist.
  auto side = log("web-1", "?container=side");
  EXPECT_EQ(side.status, 200);
  EXPECT_EQ(side.body, "");
  auto none = log("web-1", "?container=side&previous=true");
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.json()["message"],
            "previous terminated container \"side\" in pod \"web-1\" not found");
}

TEST_F(PodLogTest, ThePodAndTheContainerMustExistAndThePodHaveANode) {
  auto missing = log("ghost", "?container=function");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json()["message"], "pods \"ghost\" not found");
  create(kPods, pod("web-1", "node-a"));
  auto wrong = log("web-1", "?container=nope");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.json()["message"], "container nope is not valid for pod web-1");
  auto which = log("web-1", "");
  EXPECT_EQ(which.status, 400);
  EXPECT_EQ(which.json()["message"],
            "a container name must be specified for pod web-1, choose one of: [function side]");
  EXPECT_EQ(log("web-1", "?container=function&limitBytes=0").status, 400);
  // Not scheduled yet: nothing to read, and no error.
  create(kPods, pod("web-2", ""));
  emu_.set_pod_log("default", "web-2", "function", "x\n");
  auto unscheduled = log("web-2", "?container=function");
  EXPECT_EQ(unscheduled.status, 204);
  EXPECT_EQ(unscheduled.body, "");
  // Only GET.
  EXPECT_EQ(http_.post(std::string(kPods) + "/web-1/log", json::object()).status, 405);
  // reset() forgets what was set.
  emu_.reset();
  create(kPods, pod("web-1", "node-a"));
  EXPECT_EQ(log("web-1", "?container=function&previous=true").status, 400);
}

TEST_F(PodLogTest, InjectedErrorsOnPodsReachTheLogToo) {
  create(kPods, pod("web-1", "node-a"));
  emu_.inject_error("get", "pods", 403, 1);
  EXPECT_EQ(log("web-1", "?container=function").status, 403);
  EXPECT_EQ(log("web-1", "?container=function").status, 200);
}

}  // namespace
}  // namespace kubefn::emulator::testing
