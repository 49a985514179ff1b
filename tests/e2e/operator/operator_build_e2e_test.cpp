// Builds through the operator, end to end: a source Function gets a build Job; the test plays
// the Job's part by running the real kubefn-build with the Job's own arguments against a real
// registry, then reports the container's termination message as the kubelet would; the
// operator records the image and the Deployment runs it. On the emulator the test also plays
// the Job controller; on the real cluster the Job controller creates the pod (kwok leaves
// build pods alone: it cannot build) and completes the Job from the status the test reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kubefn/testing/registry_server.hpp"
#include "operator_fixture.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;

class OperatorBuildE2E : public OperatorE2E {
 protected:
  json get_json(const std::vector<std::string>& what) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-o", "json"});
    auto r = kubectl(args);
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json();
  }

  // Runs what the Job's container would run: its arguments, with the mounted source and the
  // termination log redirected into the test's directory.
  CommandResult run_job(const json& job, const std::string& src_dir, const std::string& log) {
    std::vector<std::string> argv = {KUBEFN_BUILD_BIN};
    for (const auto& a : job["spec"]["template"]["spec"]["containers"][0]["args"]) {
      std::string arg = a.get<std::string>();
      if (arg == "/kubefn/src") arg = src_dir;
      if (arg == "/dev/termination-log") arg = log;
      argv.push_back(arg);
    }
    return run_command(argv, {}, seconds(180));
  }

  // The container's end as the kubelet reports it.
  static json terminated_status(bool succeeded, const std::string& message) {
    const std::string now = "2026-01-01T00:00:00Z";
    return {{"status",
             {{"phase", succeeded ? "Succeeded" : "Failed"},
              {"containerStatuses",
               json::array({{{"name", "build"},
                             {"image", "registry.local/kubefn/builder:test"},
                             {"imageID", ""},
                             {"ready", false},
                             {"restartCount", 0},
                             {"state",
                              {{"terminated",
                                {{"exitCode", succeeded ? 0 : 1},
                                 {"reason", succeeded ? "Completed" : "Error"},
                                 {"message", message},
                                 {"startedAt", now},
                                 {"finishedAt", now}}}}}}})}}}};
  }

  // The kubelet's part (and, on the emulator, the Job controller's): the pod ended with
  // `message`.
  void finish(const json& job, bool succeeded, const std::string& message) {
    const std::string name = job["metadata"]["name"];
    if (api_->real()) {
      std::string pod;
      ASSERT_TRUE(wait_until(
          [&] {
            pod = jsonpath("get pods -l batch.kubernetes.io/job-name=" + name,
                           "{.items[0].metadata.name}");
            return !pod.empty();
          },
          seconds(30), std::chrono::milliseconds(100)))
          << "the Job controller made no pod for " << name;
      auto patched = kubectl({"patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
                              terminated_status(succeeded, message).dump()});
      ASSERT_EQ(patched.exit_code, 0) << patched.err;
      return;
    }
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name + "-pod"},
                  {"namespace", ns()},
                  {"labels", job["spec"]["template"]["metadata"]["labels"]}}},
                {"spec", {{"containers", json::array({{{"name", "build"}, {"image", "b"}}})}}}};
    auto created = kubectl({"create", "-f", "-"}, pod.dump());
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto patched = kubectl({"patch", "pod", name + "-pod", "--subresource=status", "--type=merge",
                            "-p", terminated_status(succeeded, message).dump()});
    ASSERT_EQ(patched.exit_code, 0) << patched.err;
    json job_status = {{"status",
                        {{"conditions", json::array({{{"type", succeeded ? "Complete" : "Failed"},
                                                      {"status", "True"}}})}}}};
    patched = kubectl(
        {"patch", "job", name, "--subresource=status", "--type=merge", "-p", job_status.dump()});
    ASSERT_EQ(patched.exit_code, 0) << patched.err;
  }

  // The source ConfigMap the Job mounts, written out as the kubelet would mount it.
  std::string mount_source(const json& job) {
    std::string cm_name;
    for (const auto& v : job["spec"]["template"]["spec"]["volumes"]) {
      if (v.contains("configMap")) cm_name = v["configMap"]["name"];
    }
    json cm = get_json({"cm", cm_name});
    const std::string dir = dir_.file("src-" + cm_name);
    std::filesystem::create_directories(dir);
    for (const auto& [file, text] : cm["data"].items())
      write_file(dir + "/" + file, text.get<std::string>());
    return dir;
  }

  json wait_for_job(const std::string& fn, const std::string& not_named = "") {
    json job;
    wait_until(
        [&] {
          json list = get_json({"jobs", "-l", "kubefn.dev/function=" + fn});
          for (const auto& j : list.value("items", json::array())) {
            if (j["metadata"]["name"] != not_named) job = j;
          }
          return !job.is_null();
        },
        seconds(30), std::chrono::milliseconds(100));
    return job;
  }
};

TEST_P(OperatorBuildE2E, SourceIsBuiltIntoAnImageTheDeploymentRuns) {
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  const std::string base = registry.host() + "/kubefn/runtime:test";
  auto pushed = run_command(
      {KUBEFN_BUILD_BIN, "base", "--runtime", KUBEFN_RUNTIME_BIN, "--image", base, "--plain-http"},
      {}, seconds(180));
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;

  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(
                op, "op",
                {"--registry", registry.host() + "/kubefn", "--base-image", base, "--builder-image",
                 "registry.local/kubefn/builder:test", "--registry-plain-http"}),
            0)
      << operator_log("op");
  const std::string manifest = std::string(KUBEFN_SOURCE_DIR) + "/examples/hello/function.yaml";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, manifest_in_namespace(manifest)).exit_code, 0);
  json job = wait_for_job("hello");
  ASSERT_FALSE(job.is_null()) << operator_log("op");
  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.conditions[?(@.type==\"Built\")].reason}",
                                "Building"));

  const std::string log = dir_.file("termination-log");
  auto built = run_job(job, mount_source(job), log);
  ASSERT_EQ(built.exit_code, 0) << built.err;
  json report = json::parse(read_file(log));
  const std::string image = report.value("image", "");
  ASSERT_EQ(image.rfind(registry.host() + "/kubefn/" + ns() + "/hello@sha256:", 0), 0u) << image;
  finish(job, true, read_file(log));

  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.image}", image)) << operator_log("op");
  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.conditions[?(@.type==\"Built\")].status}",
                                "True"));
  EXPECT_TRUE(
      eventually_equals("get deploy hello", "{.spec.template.spec.containers[0].image}", image));
  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.conditions[?(@.type==\"Ready\")].status}",
                                "True"));

  // The same Job arguments again: nothing compiled, nothing uploaded, the same digest.
  auto again = run_job(job, mount_source(job), dir_.file("termination-log-2"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json second = json::parse(read_file(dir_.file("termination-log-2")));
  EXPECT_EQ(second.value("image", ""), image);
  EXPECT_EQ(second.value("cached", false), true) << second.dump();

  // Broken source: the compiler's first error reaches the Function; the old image serves on.
  ASSERT_EQ(kubectl({"patch", "fn", "hello", "--type", "merge", "-p",
                     R"({"spec":{"source":{"inline":"int broken( {\n"}}})"})
                .exit_code,
            0);
  json broken = wait_for_job("hello", job["metadata"]["name"]);
  ASSERT_FALSE(broken.is_null());
  const std::string broken_log = dir_.file("termination-log-3");
  auto failed = run_job(broken, mount_source(broken), broken_log);
  EXPECT_NE(failed.exit_code, 0);
  finish(broken, false, read_file(broken_log));
  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.conditions[?(@.type==\"Built\")].reason}",
                                "BuildFailed"));
  const std::string message =
      jsonpath("get fn hello", "{.status.conditions[?(@.type==\"Built\")].message}");
  EXPECT_NE(message.find("hello.cpp:1:"), std::string::npos) << message;
  EXPECT_NE(message.find("error"), std::string::npos) << message;
  EXPECT_EQ(jsonpath("get deploy hello", "{.spec.template.spec.containers[0].image}"), image);
}

KUBEFN_ON_BOTH_APIS(OperatorBuildE2E);

}  // namespace
}  // namespace kubefn::testing
