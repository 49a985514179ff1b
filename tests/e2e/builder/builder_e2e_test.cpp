// kubefn-build end to end: a real registry, the real binary, skopeo/umoci to look inside the
// images it pushes, and podman to run them, call the function over HTTP and take the load
// reports of its replica.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/autoscaler/stats_server.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/registry_server.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"
#include "kubefn_build.hpp"
#include "podman.hpp"

namespace kubefn::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kBuild = KUBEFN_BUILD_BIN;
const std::string kExamples = KUBEFN_EXAMPLES_DIR;
const std::string kFixtures = KUBEFN_FIXTURES_DIR;

class BuilderE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegistryServer::available()) << "docker-registry is not installed";
    ASSERT_TRUE(registry_.started()) << registry_.error();
    base_ = registry_.host() + "/kubefn/runtime-cpp:test";
    auto r =
        run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--image", base_, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    base_result_ = parse_build_json(r.out);
  }

  CommandResult build_function(const std::string& source, const std::string& handler,
                               const std::string& repo, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"function",  "--source", source,
                                     "--handler", handler,    "--base",
                                     base_,       "--image",  registry_.host() + "/" + repo,
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_kubefn_build(args);
  }

  json inspect(const std::string& image) {
    auto r =
        run_command({"skopeo", "inspect", "--tls-verify=false", "docker://" + image}, {}, 120s);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return parse_build_json(r.out);
  }

  // skopeo copy into an OCI layout and umoci unpack it; the bundle directory.
  fs::path unpack(const std::string& image) {
    fs::path layout = work_.path() / ("oci-" + std::to_string(++unpacked_));
    fs::path bundle = work_.path() / ("bundle-" + std::to_string(unpacked_));
    auto c = run_command({"skopeo", "copy", "--src-tls-verify=false", "docker://" + image,
                          "oci:" + layout.string() + ":img"},
                         {}, 120s);
    EXPECT_EQ(c.exit_code, 0) << c.err;
    auto u = run_command({"umoci", "unpack", "--image", layout.string() + ":img", bundle.string()},
                         {}, 120s);
    EXPECT_EQ(u.exit_code, 0) << u.err;
    return bundle;
  }

  RegistryServer registry_;
  TempDir work_;
  std::string base_;
  json base_result_;
  int unpacked_ = 0;
};

TEST_F(BuilderE2E, BaseImageHoldsTheRuntimeItsLibrariesAndAnUnprivilegedUser) {
  std::string image = base_result_.value("image", "");
  ASSERT_FALSE(image.empty()) << base_result_.dump();
  EXPECT_LE(base_result_.value("compressedBytes", 0), 20 * 1024 * 1024);
  auto info = inspect(image);
  std::string libs = info["Labels"].value("dev.kubefn.libraries", "");
  EXPECT_NE(libs.find("libc.so.6"), std::string::npos) << libs;
  EXPECT_NE(libs.find("libstdc++.so.6"), std::string::npos) << libs;
  // The load-report plugin's gRPC closure, listed so function builds do not bundle it again.
  EXPECT_NE(libs.find("libgrpc++.so."), std::string::npos) << libs;
  EXPECT_NE(libs.find("libz.so.1"), std::string::npos) << libs;
  EXPECT_EQ(base_result_.value("statsPlugin", ""), "/usr/local/bin/kubefn_runtime_stats.so");
  EXPECT_EQ(info["Layers"].size(), 1u);

  fs::path bundle = unpack(image);
  fs::path rootfs = bundle / "rootfs";
  for (const char* p :
       {"usr/local/bin/kubefn-runtime", "usr/local/bin/kubefn_runtime_stats.so", "etc/passwd",
        "etc/group", "etc/ssl/certs/ca-certificates.crt", "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libstdc++.so.6"}) {
    EXPECT_TRUE(fs::exists(rootfs / p)) << p;
  }
  // Every library the label names is in the image (under /lib or /usr/lib).
  std::istringstream names(libs);
  for (std::string name; std::getline(names, name, ',');) {
    bool found = false;
    for (const char* dir : {"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64"})
      found = found || fs::exists(rootfs / dir / name);
    EXPECT_TRUE(found) << name;
  }
  EXPECT_TRUE(fs::is_directory(rootfs / "kubefn"));
  EXPECT_EQ(fs::status(rootfs / "tmp").permissions(), fs::perms::all | fs::perms::sticky_bit);
  EXPECT_NE(read_file((rootfs / "etc/passwd").string()).find(":65532:65532:"), std::string::npos);
  auto config = json::parse(read_file((bundle / "config.json").string()));
  EXPECT_EQ(config["process"]["user"]["uid"], 65532);
  EXPECT_EQ(config["process"]["args"][0], "/usr/local/bin/kubefn-runtime");
}

TEST_F(BuilderE2E, HelloBuildsPushesRunsAndRebuildsFromCache) {
  auto r = build_function(kExamples + "/hello", "hello.greet", "fn/hello");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json first = parse_build_json(r.out);
  std::string image = first.value("image", "");
  ASSERT_TRUE(image.starts_with(registry_.host() + "/fn/hello@sha256:")) << r.out;
  EXPECT_FALSE(first.value("cached", true));
  EXPECT_EQ(first.value("tag", ""), "src-" + first.value("sourceDigest", "").substr(7, 16));
  // New layer and config uploaded; the base layer mounted from the base repository.
  EXPECT_EQ(first.value("uploaded", 0), 2) << r.out;
  EXPECT_EQ(first.value("mounted", 0), 1) << r.out;

  auto info = inspect(registry_.host() + "/fn/hello:" + first.value("tag", ""));
  EXPECT_EQ(info.value("Digest", ""), first.value("digest", "x"));
  EXPECT_EQ(info["Labels"].value("dev.kubefn.handler", ""), "hello.greet");
  EXPECT_EQ(info["Labels"].value("dev.kubefn.source-digest", ""), first.value("sourceDigest", "x"));
  EXPECT_EQ(info["Labels"].value("dev.kubefn.sdk-version", ""), "0.1.0");
  EXPECT_EQ(info["Layers"].size(), 2u);

  fs::path bundle = unpack(image);
  EXPECT_TRUE(fs::is_regular_file(bundle / "rootfs/kubefn/hello.so"));
  EXPECT_TRUE(fs::is_regular_file(bundle / "rootfs/usr/local/bin/kubefn-runtime"));
  EXPECT_FALSE(fs::exists(bundle / "rootfs/kubefn/lib"));
  auto config = json::parse(read_file((bundle / "config.json").string()));
  EXPECT_EQ(config["process"]["user"]["uid"], 65532);
  EXPECT_NE(config["process"]["env"].dump().find("FUNC_HANDLER=hello.greet"), std::string::npos);

  // Unchanged rebuild: same digest, nothing compiled or uploaded.
  auto again = build_function(kExamples + "/hello", "hello.greet", "fn/hello");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json second = parse_build_json(again.out);
  EXPECT_TRUE(second.value("cached", false)) << again.out;
  EXPECT_EQ(second.value("digest", ""), first.value("digest", "x"));
  EXPECT_EQ(second.value("uploaded", -1), 0);

  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  std::string error;
  std::uint16_t port = podman.start(image, error);
  ASSERT_NE(port, 0) << error;
  auto reply = http_request(port, "GET", "/?name=podman");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello podman\n");
}

TEST_F(BuilderE2E, SameSourceInAnotherTreeGivesTheSameImage) {
  // The ConfigMap-style directory and a tarball of it build byte-identical images.
  fs::path dir = work_.path() / "cm";
  work_.write("cm/..2026_01_01/hello.cpp", read_file(kExamples + "/hello/hello.cpp"));
  fs::create_directory_symlink("..2026_01_01", dir / "..data");
  fs::create_symlink("..data/hello.cpp", dir / "hello.cpp");
  auto from_dir = build_function(dir.string(), "hello.greet", "fn/a");
  ASSERT_EQ(from_dir.exit_code, 0) << from_dir.err;
  auto tar = run_command(
      {"tar", "-czf", work_.file("src.tar.gz"), "-C", kExamples + "/hello", "hello.cpp"});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  auto from_tar = build_function(work_.file("src.tar.gz"), "hello.greet", "fn/b");
  ASSERT_EQ(from_tar.exit_code, 0) << from_tar.err;
  EXPECT_EQ(parse_build_json(from_dir.out).value("digest", "x"),
            parse_build_json(from_tar.out).value("digest", "y"));
}

TEST_F(BuilderE2E, EchoRunsInPodman) {
  // The base pinned by digest, as the operator does.
  std::string base_by_digest =
      registry_.host() + "/kubefn/runtime-cpp@" + base_result_.value("digest", "");
  auto r = run_kubefn_build({"function", "--source", kExamples + "/echo/echo.cpp", "--handler",
                             "echo.echo", "--base", base_by_digest, "--image",
                             registry_.host() + "/fn/echo", "--tag", "v1", "--source-digest",
                             "sha256:" + std::string(64, 'e'), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = parse_build_json(r.out);
  EXPECT_EQ(out.value("tag", ""), "v1");
  EXPECT_EQ(out.value("sourceDigest", ""), "sha256:" + std::string(64, 'e'));
  auto info = inspect(registry_.host() + "/fn/echo:v1");
  EXPECT_EQ(info["Labels"].value("dev.kubefn.base-digest", ""), base_result_.value("digest", "x"));
  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  std::string error;
  std::uint16_t port = podman.start(registry_.host() + "/fn/echo:v1", error);
  ASSERT_NE(port, 0) << error;
  auto reply = http_request(port, "POST", "/", "ping body", {{"Content-Type", "text/x-test"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ping body");
  EXPECT_EQ(reply->header("content-type"), "text/x-test");
}

TEST_F(BuilderE2E, DeclaredDependenciesTheBaseLacksAreBundledAndRun) {
  // zlib is in the base (the stats plugin's gRPC needs it), bzip2 is not.
  std::string libs = inspect(base_).at("Labels").value("dev.kubefn.libraries", "");
  ASSERT_NE(libs.find("libz.so.1"), std::string::npos) << libs;
  ASSERT_EQ(libs.find("libbz2"), std::string::npos) << libs;
  auto r = build_function(kFixtures + "/crc", "crc.crc", "fn/crc",
                          {"--dependency", "zlib1g-dev", "--dependency", "libbz2-dev"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = parse_build_json(r.out);
  EXPECT_EQ(out["bundledLibraries"], json::array({"libbz2.so.1.0"})) << r.out;
  auto info = inspect(registry_.host() + "/fn/crc:" + out.value("tag", ""));
  EXPECT_EQ(info["Labels"].value("dev.kubefn.dependencies", ""), "libbz2-dev,zlib1g-dev");
  EXPECT_NE(info["Env"].dump().find("LD_LIBRARY_PATH=/kubefn/lib"), std::string::npos);
  fs::path bundle = unpack(out.value("image", ""));
  EXPECT_TRUE(fs::is_regular_file(bundle / "rootfs/kubefn/lib/libbz2.so.1.0"));
  EXPECT_FALSE(fs::exists(bundle / "rootfs/kubefn/lib/libz.so.1"))
      << "zlib comes from the base, not again from the function layer";
  EXPECT_TRUE(fs::exists(bundle / "rootfs/lib/x86_64-linux-gnu/libz.so.1"));

  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  std::string error;
  std::uint16_t port = podman.start(out.value("image", ""), error);
  ASSERT_NE(port, 0) << error;
  auto reply = http_request(port, "POST", "/", "hello");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(reply->body.starts_with("907060870 zlib ")) << reply->body;
  EXPECT_NE(reply->body.find(" bzip2 "), std::string::npos) << reply->body;
  EXPECT_EQ(reply->body.find("error"), std::string::npos) << reply->body;
}

TEST_F(BuilderE2E, BaseIsReproducibleAndCanLeaveThePluginOut) {
  // The same inputs give the same layer, config and manifest.
  auto again = run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--image",
                                 registry_.host() + "/kubefn/runtime-cpp:again", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json second = parse_build_json(again.out);
  EXPECT_EQ(second.value("digest", ""), base_result_.value("digest", "x"));
  EXPECT_EQ(second.value("uploaded", -1), 0) << again.out;

  // --stats-plugin names the same file as the default: the same image.
  std::string plugin =
      (fs::path(KUBEFN_RUNTIME_BIN).parent_path() / "kubefn_runtime_stats.so").string();
  auto named =
      run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--stats-plugin", plugin,
                        "--image", registry_.host() + "/kubefn/runtime-cpp:named", "--json"});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(parse_build_json(named.out).value("digest", ""), base_result_.value("digest", "x"));

  auto minimal =
      run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--no-stats-plugin", "--image",
                        registry_.host() + "/kubefn/runtime-cpp:minimal", "--json"});
  ASSERT_EQ(minimal.exit_code, 0) << minimal.err;
  json small = parse_build_json(minimal.out);
  EXPECT_NE(small.value("digest", ""), base_result_.value("digest", ""));
  EXPECT_EQ(small.value("statsPlugin", "x"), "");
  EXPECT_LT(small.value("compressedBytes", 0), base_result_.value("compressedBytes", 0));
  std::string libs = inspect(registry_.host() + "/kubefn/runtime-cpp:minimal")
                         .at("Labels")
                         .value("dev.kubefn.libraries", "");
  EXPECT_NE(libs.find("libc.so.6"), std::string::npos) << libs;
  EXPECT_EQ(libs.find("libgrpc"), std::string::npos) << libs;
  EXPECT_FALSE(fs::exists(unpack(registry_.host() + "/kubefn/runtime-cpp:minimal") /
                          "rootfs/usr/local/bin/kubefn_runtime_stats.so"));

  auto missing = run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--stats-plugin",
                                   work_.file("nope.so"), "--image",
                                   registry_.host() + "/kubefn/runtime-cpp:missing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.so"), std::string::npos) << missing.err;
  auto both = run_kubefn_build({"base", "--runtime", KUBEFN_RUNTIME_BIN, "--stats-plugin", plugin,
                                "--no-stats-plugin", "--image", registry_.host() + "/kubefn/x:1"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
}

class RecordingSink : public autoscaler::StatsSink {
 public:
  void on_replica(const autoscaler::ReplicaReport& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.push_back(r);
  }
  void on_gateway(const autoscaler::GatewayReport&) override {}
  std::vector<autoscaler::ReplicaReport> reports() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }
  // The calls `function`'s replicas reported.
  double calls(const std::string& function) const {
    double sum = 0;
    for (const auto& r : reports())
      if (r.function == function) sum += r.requests;
    return sum;
  }

 private:
  mutable std::mutex mu_;
  std::vector<autoscaler::ReplicaReport> reports_;
};

// A replica of a built image, as a cluster runs it, streams its load to the operator's server.
TEST_F(BuilderE2E, BuiltImageReportsItsLoad) {
  if (!Podman::installed()) GTEST_SKIP() << "podman is not installed";
  auto r = build_function(kExamples + "/hello", "hello.greet", "fn/hello");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string image = parse_build_json(r.out).value("image", "");
  ASSERT_FALSE(image.empty()) << r.out;

  RecordingSink sink;
  autoscaler::StatsServer server(sink, "127.0.0.1", 0);
  ASSERT_TRUE(server.start().ok());
  Podman podman;
  std::string error;
  std::uint16_t port =
      podman.start(image, error,
                   {{"KUBEFN_STATS_ADDRESS", "127.0.0.1:" + std::to_string(server.port())},
                    {"KUBEFN_FUNCTION_NAME", "hello"},
                    {"POD_NAMESPACE", "team"},
                    {"POD_NAME", "hello-7c9d-podman"}},
                   true);
  ASSERT_NE(port, 0) << error;
  constexpr int kCalls = 25;
  for (int i = 0; i < kCalls; ++i) {
    auto reply = http_request(port, "GET", "/?name=n" + std::to_string(i));
    ASSERT_TRUE(reply);
    ASSERT_EQ(reply->status, 200);
  }
  // One sample a second; the calls are in those covering the seconds they were served in.
  ASSERT_TRUE(wait_until([&] { return sink.calls("hello") >= kCalls; }, 30s, 50ms))
      << sink.calls("hello") << " of " << kCalls << " calls reported\n"
      << podman.logs();
  // No more than were made, two samples later either.
  const std::size_t seen = sink.reports().size();
  ASSERT_TRUE(wait_until([&] { return sink.reports().size() >= seen + 2; }, 30s, 50ms));
  EXPECT_EQ(sink.calls("hello"), kCalls);
  for (const auto& report : sink.reports()) {
    EXPECT_EQ(report.ns, "team");
    EXPECT_EQ(report.function, "hello");
    EXPECT_EQ(report.replica, "hello-7c9d-podman");
  }
  EXPECT_EQ(server.streams(), 1u);
  EXPECT_EQ(podman.logs().find("load reports are off"), std::string::npos) << podman.logs();
}

// The platform's own components as images (what the Helm chart runs): the program and its
// libraries, run as the unprivileged user.
TEST_F(BuilderE2E, PlatformProgramsPackageAsImagesThatRun) {
  const std::string operator_image = registry_.host() + "/kubefn/operator:test";
  const std::string gateway_image = registry_.host() + "/kubefn/gateway:test";
  for (const auto& [binary, image] :
       {std::pair<std::string, std::string>{KUBEFN_OPERATOR_BIN, operator_image},
        {KUBEFN_GATEWAY_BIN, gateway_image}}) {
    auto r = run_kubefn_build({"program", "--binary", binary, "--image", image, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json result = parse_build_json(r.out);
    EXPECT_NE(result.value("image", "").find("@sha256:"), std::string::npos) << r.out;
    const json config = inspect(image);
    EXPECT_EQ(config.value("Os", ""), "linux") << config.dump();
  }
  // Not a program: a readable error.
  auto bad = run_kubefn_build({"program", "--binary", KUBEFN_FIXTURES_DIR "/crc/crc.cpp", "--image",
                               registry_.host() + "/kubefn/bad:test"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("crc.cpp"), std::string::npos) << bad.err;

  if (!Podman::installed()) GTEST_SKIP() << "podman is not installed";
  Podman podman;
  auto help =
      podman.run({"run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit",
                  "nproc=1024:1024", "--tls-verify=false", operator_image, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("kubefn-operator: runs kubefn Functions"), std::string::npos)
      << help.out << help.err;
  auto user = podman.run({"run", "--rm", "--runtime", "runc", "--ulimit", "nofile=1024:1024",
                          "--ulimit", "nproc=1024:1024", "--tls-verify=false", "--entrypoint",
                          "/usr/local/bin/kubefn-operator", gateway_image, "--help"});
  EXPECT_NE(user.exit_code, 0) << "the gateway image holds only the gateway";
  // The gateway image serves: /healthz on its default port.
  std::string error;
  const std::uint16_t port =
      podman.start(gateway_image, error, {}, false, {"--bind-address", "0.0.0.0"});
  ASSERT_NE(port, 0) << error;
  auto health = http_request(port, "GET", "/healthz", {}, {}, 5s);
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200) << health->body;
}

TEST_F(BuilderE2E, BrokenSourceGivesAShortErrorAndATerminationLog) {
  std::string log = work_.file("termination-log");
  auto r = build_function(kFixtures + "/broken", "broken.greet", "fn/broken",
                          {"--termination-log", log});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("broken.cpp:8:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error: 'nme' was not declared"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("/tmp"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  auto j = json::parse(read_file(log), nullptr, false);
  ASSERT_TRUE(j.is_object()) << read_file(log);
  std::string error = j.value("error", "");
  EXPECT_NE(error.find("broken.cpp:8:"), std::string::npos) << error;
  EXPECT_LE(read_file(log).size(), 4096u);
  // Nothing was pushed.
  auto head = run_command({"skopeo", "inspect", "--tls-verify=false",
                           "docker://" + registry_.host() + "/fn/broken:latest"},
                          {}, 60s);
  EXPECT_NE(head.exit_code, 0);
}

TEST_F(BuilderE2E, MissingBaseIsAReadableError) {
  std::string log = work_.file("termination-log");
  auto r = run_kubefn_build({"function", "--source", kExamples + "/hello", "--handler",
                             "hello.greet", "--base", registry_.host() + "/kubefn/nope:1",
                             "--image", registry_.host() + "/fn/hello", "--termination-log", log});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_NE(read_file(log).find("\"error\""), std::string::npos);
}

// Local mode: compile only, then the runtime serves the result straight from the directory.
TEST(BuilderLocal, OutputDirServesWithTheRuntime) {
  TempDir dir;
  auto r = run_command({kBuild, "function", "--source", kExamples + "/hello/hello.cpp", "--handler",
                        "hello.greet", "--output-dir", dir.file("out")},
                       {}, 300s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::is_regular_file(dir.path() / "out/hello.so"));
  std::uint16_t port = free_port();
  ChildProcess runtime({KUBEFN_RUNTIME_BIN},
                       {{"FUNC_HANDLER", "hello.greet"},
                        {"KUBEFN_FUNCTION_DIR", dir.file("out")},
                        {"FUNC_PORT", std::to_string(port)}},
                       dir.file("stdout"), dir.file("stderr"));
  std::optional<HttpReply> reply;
  ASSERT_TRUE(wait_until(
      [&] {
        reply = http_request(port, "GET", "/?name=local", {}, {}, 2s);
        return reply.has_value();
      },
      30s, 20ms))
      << read_file(dir.file("stderr"));
  EXPECT_EQ(reply->body, "hello local\n");
}

}  // namespace
}  // namespace kubefn::testing
