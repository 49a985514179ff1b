// The images a cluster needs, assembled without a daemon and pushed to a real registry: the
// pod sandbox (kubefn-pause alone in its image) and the builder (Debian's packages, assembled
// by scripts/images, with kubefn-build on top), run with podman; scripts/images pushing all
// five and finding them unchanged the second time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
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
const std::string kSource = KUBEFN_SOURCE_DIR;
const std::string kScript = kSource + "/scripts/images";
const std::string kFixtures = KUBEFN_FIXTURES_DIR;

std::string last_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n')
    t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// The image's config document (User, Entrypoint, Env, Labels under "config").
json image_config(const std::string& image) {
  auto r = run_command({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image},
                       {}, 120s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return parse_build_json(r.out);
}

std::vector<std::string> run_args(std::vector<std::string> options) {
  std::vector<std::string> args = Podman::run_command_line("--rm");
  args.insert(args.end(), options.begin(), options.end());
  return args;
}

// Host processes whose parent is `pid` (zombies too).
std::vector<std::string> children_of(const std::string& pid) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("PPid:", 0) == 0) {
        std::istringstream in(line.substr(5));
        std::string ppid;
        in >> ppid;
        if (ppid == pid) out.push_back(entry.path().filename().string());
        break;
      }
    }
  }
  return out;
}

class PauseImageE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegistryServer::available()) << "docker-registry is not installed";
    ASSERT_TRUE(registry_.started()) << registry_.error();
  }
  RegistryServer registry_;
  TempDir work_;
};

TEST_F(PauseImageE2E, HoldsThePauseProgramAloneAndRunsUntilStopped) {
  const std::string image = registry_.host() + "/kubefn/pause:test";
  auto r = run_kubefn_build({"program", "--binary", KUBEFN_PAUSE_BIN, "--bare", "--path", "/pause",
                             "--image", image, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json result = parse_build_json(r.out);
  EXPECT_EQ(result["libraries"], json::array()) << r.out;
  EXPECT_LT(result.value("compressedBytes", 1 << 30), 1 << 20) << r.out;

  json config = image_config(image);
  EXPECT_EQ(config["config"]["Entrypoint"], json::array({"/pause"})) << config.dump();
  EXPECT_EQ(config["config"].value("User", ""), "") << config.dump();
  EXPECT_FALSE(config["config"].contains("Env")) << config.dump();
  EXPECT_EQ(config["rootfs"]["diff_ids"].size(), 1u);
  // The layer holds the one file.
  auto copy = run_command({"skopeo", "copy", "--src-tls-verify=false", "docker://" + image,
                           "oci:" + work_.file("layout") + ":img"},
                          {}, 120s);
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  auto unpack = run_command(
      {"umoci", "unpack", "--image", work_.file("layout") + ":img", work_.file("bundle")}, {},
      120s);
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  std::set<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(work_.path() / "bundle/rootfs"))
    names.insert(fs::relative(e.path(), work_.path() / "bundle/rootfs").string());
  EXPECT_EQ(names, std::set<std::string>{"pause"});
  EXPECT_EQ(fs::status(work_.path() / "bundle/rootfs/pause").permissions() & fs::perms::all,
            static_cast<fs::perms>(0755));

  // A dynamically linked program is no bare image.
  auto dynamic = run_kubefn_build({"program", "--binary", KUBEFN_RUNTIME_BIN, "--bare", "--image",
                                   registry_.host() + "/kubefn/nope:test"});
  EXPECT_EQ(dynamic.exit_code, 1);
  EXPECT_NE(dynamic.err.find("not statically linked"), std::string::npos) << dynamic.err;

  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  std::string error;
  const std::string id = podman.run_detached({}, image, error);
  ASSERT_FALSE(id.empty()) << error;
  ASSERT_TRUE(
      wait_until([&] { return podman.inspect(id, "{{.State.Running}}") == "true"; }, 30s, 50ms));
  const std::string pid = podman.inspect(id, "{{.State.Pid}}");
  ASSERT_FALSE(pid.empty());

  // As the sandbox's PID 1 it inherits the orphans of its namespace and reaps them: a shell
  // started in its PID namespace leaves a child behind, which ends a second later.
  if (geteuid() == 0) {
    auto orphan = run_command(
        {"nsenter", "-t", pid, "-p", "--", "/bin/sh", "-c", "sleep 1 & exit 0"}, {}, 30s);
    ASSERT_EQ(orphan.exit_code, 0) << orphan.err;
    EXPECT_TRUE(wait_until([&] { return !children_of(pid).empty(); }, 10s, 20ms))
        << "the orphan was not handed to pause";
    EXPECT_TRUE(wait_until([&] { return children_of(pid).empty(); }, 15s, 50ms))
        << "pause left its child unreaped";
  }
  // Still up, then SIGTERM ends it at once, with status 0 (not killed at podman's timeout).
  EXPECT_EQ(podman.inspect(id, "{{.State.Running}}"), "true");
  const auto stop_started = std::chrono::steady_clock::now();
  auto stop = podman.run({"stop", "-t", "20", id}, 60s);
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 10s);
  EXPECT_EQ(podman.inspect(id, "{{.State.ExitCode}}"), "0");
}

// The builder's root file system, assembled once per run of the tests (scripts/images keeps it
// in .tools/ and the machine cache): its path, or why it is not there.
struct Rootfs {
  std::string path;
  std::string skip;   // it cannot be made on this machine
  std::string error;  // it could have been made and was not
};

const Rootfs& builder_rootfs() {
  static const Rootfs rootfs = [] {
    Rootfs out;
    auto r = run_command({kScript, "rootfs"}, {}, 900s);
    if (r.exit_code == 0) {
      out.path = last_line(r.out);
      return out;
    }
    if (run_command({"mmdebstrap", "--version"}, {}, 30s).exit_code != 0) {
      out.skip = "no cached builder root file system, and mmdebstrap is not installed";
    } else if (run_command({"curl", "-fsSI", "--max-time", "15",
                            "http://deb.debian.org/debian/dists/bookworm/InRelease"},
                           {}, 30s)
                   .exit_code != 0) {
      out.skip = "no cached builder root file system, and Debian's mirror is unreachable";
    } else {
      out.error = "scripts/images rootfs failed: " + r.err;
    }
    return out;
  }();
  return rootfs;
}

class BuilderImageE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegistryServer::available()) << "docker-registry is not installed";
    ASSERT_TRUE(registry_.started()) << registry_.error();
    const Rootfs& rootfs = builder_rootfs();
    if (!rootfs.skip.empty()) GTEST_SKIP() << rootfs.skip;
    ASSERT_TRUE(rootfs.error.empty()) << rootfs.error;
    rootfs_ = rootfs.path;
    ASSERT_TRUE(fs::is_regular_file(rootfs_ + "/var/lib/dpkg/status")) << rootfs_;
  }

  // scripts/images build into the test's registry, from this build tree's binaries.
  CommandResult images(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kScript,          "build",           "--registry",
                                     registry_.host(), "--tag",           "test",
                                     "--build-dir",    KUBEFN_BINARY_DIR, "--prebuilt"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, {}, 600s);
  }

  // The builder and runtime base images (scripts/images), their references by tag.
  void push_builder_and_base() {
    auto r = images({"--only", "runtime-cpp,builder"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    builder_ = registry_.host() + "/kubefn/builder:test";
    base_ = registry_.host() + "/kubefn/runtime-cpp:test";
  }

  // kubefn-build function inside the builder image, as a build Job runs it (user 65532, the
  // source read-only at /kubefn/src, /tmp a fresh tmpfs), on the host's network to reach the
  // test's registry.
  CommandResult build_in_builder(Podman& podman, const std::string& source,
                                 const std::vector<std::string>& args) {
    auto argv = run_args({"--network", "host", "--user", "65532:65532", "-v",
                          source + ":/kubefn/src:ro", "--tmpfs", "/tmp", builder_, "function",
                          "--source", "/kubefn/src", "--base", base_, "--json"});
    argv.insert(argv.end(), args.begin(), args.end());
    return podman.run(argv, 300s);
  }

  // dpkg's version of each package, in the root file system (`admindir`) or on this machine.
  static std::string versions(const std::vector<std::string>& packages,
                              const std::string& admindir = "") {
    std::vector<std::string> argv = {"dpkg-query"};
    if (!admindir.empty()) argv.push_back("--admindir=" + admindir);
    argv.insert(argv.end(), {"-W", "-f=${Package} ${Version}\\n"});
    argv.insert(argv.end(), packages.begin(), packages.end());
    return run_command(argv, {}, 30s).out;
  }

  std::vector<std::string> rootfs_args(const std::string& kubefn_build) const {
    return {"rootfs",
            "--dir",
            rootfs_,
            "--add",
            kubefn_build + "=/usr/local/bin/kubefn-build",
            "--add",
            kSource +
                "/runtime-images/cpp/sdk/include/kubefn/function.hpp=/usr/local/include/"
                "kubefn/function.hpp",
            "--entrypoint",
            "/usr/local/bin/kubefn-build",
            "--user",
            "65532:65532",
            "--workdir",
            "/tmp",
            "--json"};
  }

  RegistryServer registry_;
  TempDir work_;
  std::string rootfs_, builder_, base_;
};

TEST_F(BuilderImageE2E, ScriptPushesEveryImageThenFindsThemUnchanged) {
  auto first = images();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json refs = parse_build_json(last_line(first.out));
  const std::vector<std::string> names = {"pause",    "runtime-cpp", "builder",
                                          "operator", "gateway",     "dispatcher"};
  ASSERT_EQ(refs.size(), names.size()) << first.out;
  for (const auto& name : names) {
    const std::string ref = refs.value(name, "");
    EXPECT_TRUE(ref.starts_with(registry_.host() + "/kubefn/" + name + ":test@sha256:")) << ref;
    EXPECT_NE(first.out.find(name + "=" + ref + "\n"), std::string::npos) << first.out;
    // Each is in the registry under its tag with that digest.
    auto head = run_command({"skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                             "docker://" + registry_.host() + "/kubefn/" + name + ":test"},
                            {}, 120s);
    EXPECT_EQ(head.exit_code, 0) << head.err;
    EXPECT_EQ(last_line(head.out), ref.substr(ref.find('@') + 1)) << name;
  }
  // REGISTRY/kubefn/builder:test@sha256:... as the tools take it: by digest alone.
  const std::string builder_ref = refs.value("builder", "");
  json builder = image_config(builder_ref.substr(0, builder_ref.rfind(':', builder_ref.find('@'))) +
                              builder_ref.substr(builder_ref.find('@')));
  EXPECT_EQ(builder["config"].value("User", ""), "65532:65532");
  EXPECT_EQ(builder["config"]["Entrypoint"], json::array({"/usr/local/bin/kubefn-build"}));
  EXPECT_NE(builder["config"]["Labels"].value("dev.kubefn.packages", "").find("libpqxx-dev"),
            std::string::npos);
  EXPECT_EQ(builder["rootfs"]["diff_ids"].size(), 2u) << "the Debian layer and kubefn-build's";

  // Nothing changed: the same references, quickly.
  const auto started = std::chrono::steady_clock::now();
  auto second = images();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(parse_build_json(last_line(second.out)), refs) << second.out;
  EXPECT_LT(seconds, 60.0);
  RecordProperty("warm_seconds", std::to_string(seconds));
  std::cout << "warm scripts/images build: " << seconds << " s\n";
}

TEST_F(BuilderImageE2E, SourceBuildInsideTheBuilderServesHello) {
  ASSERT_NO_FATAL_FAILURE(push_builder_and_base());
  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  auto r =
      build_in_builder(podman, kSource + "/examples/hello",
                       {"--handler", "hello.greet", "--image", registry_.host() + "/fn/hello"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json result = parse_build_json(last_line(r.out));
  const std::string image = result.value("image", "");
  ASSERT_TRUE(image.starts_with(registry_.host() + "/fn/hello@sha256:")) << r.out << r.err;
  EXPECT_EQ(result.value("mounted", 0), 1) << "the base layer is mounted, not uploaded";

  std::string error;
  const std::uint16_t port = podman.start(image, error);
  ASSERT_NE(port, 0) << error;
  auto reply = http_request(port, "GET", "/?name=builder");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello builder\n");

  // With the host's compiler of the same versions, the host builds the very same image.
  const std::vector<std::string> toolchain = {"g++-12", "libstdc++-12-dev", "libc6-dev",
                                              "binutils-x86-64-linux-gnu"};
  if (versions(toolchain) == versions(toolchain, rootfs_ + "/var/lib/dpkg")) {
    auto host = run_kubefn_build({"function", "--source", kSource + "/examples/hello", "--handler",
                                  "hello.greet", "--base", base_, "--image",
                                  registry_.host() + "/fn/hello-host", "--json"});
    ASSERT_EQ(host.exit_code, 0) << host.err;
    EXPECT_EQ(parse_build_json(host.out).value("digest", "x"), result.value("digest", "y"));
  }
}

TEST_F(BuilderImageE2E, DeclaredPackagesAreThereAndAMissingOneIsNamed) {
  // Every package of the list is installed in the root file system's dpkg database.
  std::ifstream list(kSource + "/runtime-images/cpp/images/builder/packages");
  std::vector<std::string> declared;
  for (std::string line; std::getline(list, line);) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name;
    if (words >> name) declared.push_back(name);
  }
  ASSERT_GE(declared.size(), 7u);
  for (const auto& name : declared) {
    auto r = run_command({"dpkg-query", "--admindir=" + rootfs_ + "/var/lib/dpkg", "-W",
                          "-f=${db:Status-Status}", name},
                         {}, 30s);
    EXPECT_EQ(r.out, "installed") << name;
  }

  ASSERT_NO_FATAL_FAILURE(push_builder_and_base());
  ASSERT_TRUE(Podman::installed()) << "podman is not installed";
  Podman podman;
  auto ok = build_in_builder(podman, kFixtures + "/crc",
                             {"--handler", "crc.crc", "--image", registry_.host() + "/fn/crc",
                              "--dependency", "zlib1g-dev", "--dependency", "libbz2-dev"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(parse_build_json(last_line(ok.out))["bundledLibraries"], json::array({"libbz2.so.1.0"}))
      << ok.out;

  auto missing =
      build_in_builder(podman, kFixtures + "/crc",
                       {"--handler", "crc.crc", "--image", registry_.host() + "/fn/crc-gmp",
                        "--dependency", "libgmp-dev", "--dependency", "zlib1g-dev"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("libgmp-dev"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.err.find("zlib1g-dev"), std::string::npos) << missing.err;
}

TEST_F(BuilderImageE2E, SameInputsGiveTheSameDigestAndANewKubefnBuildOnlyItsLayer) {
  const std::string cache = work_.file("layers");
  auto args = rootfs_args(kBuild);
  args.insert(args.end(), {"--layer-cache", cache, "--image", registry_.host() + "/kubefn/a:1"});
  auto first = run_kubefn_build(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json a = parse_build_json(first.out);
  ASSERT_EQ(a["layers"].size(), 2u) << first.out;
  EXPECT_FALSE(a["layers"][0].value("cached", true));
  EXPECT_GT(a["layers"][0].value("size", 0), 50 << 20) << "the Debian layer";
  EXPECT_LT(a["layers"][1].value("size", 1 << 30), 5 << 20) << "kubefn-build and the SDK";
  EXPECT_EQ(a.value("uploaded", 0), 3);
  for (const auto& device : {"dev/null", "dev/zero"}) {
    EXPECT_NE(std::find(a["skipped"].begin(), a["skipped"].end(), device), a["skipped"].end())
        << a["skipped"].dump();
  }

  // Packed again from scratch, into another repository: byte for byte the same image.
  args = rootfs_args(kBuild);
  args.insert(args.end(), {"--image", registry_.host() + "/kubefn/b:1"});
  auto second = run_kubefn_build(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  json b = parse_build_json(second.out);
  EXPECT_EQ(b.value("digest", "x"), a.value("digest", "y"));
  EXPECT_EQ(b["layers"], a["layers"]);

  // The same again under the first tag: found unchanged, nothing sent.
  args = rootfs_args(kBuild);
  args.insert(args.end(), {"--layer-cache", cache, "--image", registry_.host() + "/kubefn/a:1"});
  auto again = run_kubefn_build(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json c = parse_build_json(again.out);
  EXPECT_TRUE(c.value("unchanged", false)) << again.out;
  EXPECT_EQ(c.value("digest", "x"), a.value("digest", "y"));
  EXPECT_TRUE(c["layers"][0].value("cached", false));

  // Another kubefn-build (here: any other static program in its place) changes the top layer
  // only: the Debian layer is found in the registry, two small blobs go up.
  args = rootfs_args(KUBEFN_PAUSE_BIN);
  args.insert(args.end(), {"--layer-cache", cache, "--image", registry_.host() + "/kubefn/a:2"});
  auto rebuilt = run_kubefn_build(args);
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  json d = parse_build_json(rebuilt.out);
  EXPECT_EQ(d["layers"][0], c["layers"][0]);
  EXPECT_NE(d["layers"][1].value("digest", ""), a["layers"][1].value("digest", ""));
  EXPECT_EQ(d.value("uploaded", 0), 2) << rebuilt.out;
  EXPECT_EQ(d.value("existed", 0), 1) << rebuilt.out;
  EXPECT_LT(d.value("bytesSent", 1 << 30), 5 << 20) << rebuilt.out;
}

}  // namespace
}  // namespace kubefn::testing
