// The emulator's durable store (EmulatorOptions.data_dir): what one emulator wrote, the next one
// on the same folder starts with, objects, uids, creationTimestamps and resourceVersions
// intact; a torn last log record is dropped; compaction keeps the log short and loses nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/emulator/kube_emulator.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using emulator::EmulatorOptions;
using emulator::KubeEmulator;
using nlohmann::json;
namespace fs = std::filesystem;

const char kConfigMaps[] = "/api/v1/namespaces/default/configmaps";
const char kWidgets[] = "/apis/store.kubefn.dev/v1/namespaces/default/widgets";

json config_map(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", {{"v", value}}}};
}

json widget_crd() {
  return json::parse(R"({
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.store.kubefn.dev"},
    "spec": {"group": "store.kubefn.dev", "scope": "Namespaced",
      "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
      "versions": [{"name": "v1", "served": true, "storage": true,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
          "spec": {"type": "object", "properties": {"color": {"type": "string"}}},
          "status": {"type": "object", "properties": {"phase": {"type": "string"}}}}}}}]}})");
}

uint64_t rv_of(const json& obj) {
  return std::stoull(obj["metadata"]["resourceVersion"].get<std::string>());
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// The store's frame, written independently of it: length, CRC-32C of length and payload.
uint32_t crc32c(uint32_t crc, const std::string& bytes) {
  crc = ~crc;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1) != 0 ? 0x82f63b78u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

std::string le32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::string frame(const std::string& payload) {
  const std::string len = le32(static_cast<uint32_t>(payload.size()));
  return len + le32(crc32c(crc32c(0, len), payload)) + payload;
}

class ApiStoreTest : public ::testing::Test {
 protected:
  EmulatorOptions options() const {
    EmulatorOptions o;
    o.data_dir = data_.string();
    o.deployment_controller = false;
    return o;
  }
  std::unique_ptr<KubeEmulator> start() { return std::make_unique<KubeEmulator>(options()); }
  json create(KubeEmulator& emu, const std::string& collection, const json& obj) {
    auto r = emu.call("POST", collection, obj);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }

  TempDir dir_;
  fs::path data_ = dir_.path() / "api";
};

TEST_F(ApiStoreTest, ARestartedEmulatorHasEveryObjectAsItWas) {
  std::vector<json> before;
  uint64_t last_rv = 0;
  {
    auto emu = start();
    ASSERT_EQ(
        emu->call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd())
            .status,
        201);
    for (int i = 0; i < 5; ++i)
      create(*emu, kConfigMaps, config_map("cm-" + std::to_string(i), "one"));
    auto updated = emu->call("PUT", std::string(kConfigMaps) + "/cm-1", config_map("cm-1", "two"));
    ASSERT_EQ(updated.status, 200) << updated.body.dump();
    ASSERT_EQ(emu->call("DELETE", std::string(kConfigMaps) + "/cm-2").status, 200);
    json w = {{"apiVersion", "store.kubefn.dev/v1"},
              {"kind", "Widget"},
              {"metadata", {{"name", "w"}}},
              {"spec", {{"color", "red"}}}};
    w = create(*emu, kWidgets, w);
    w["status"] = {{"phase", "Ready"}};
    auto status = emu->call("PUT", std::string(kWidgets) + "/w/status", w);
    ASSERT_EQ(status.status, 200) << status.body.dump();
    for (const char* name : {"cm-0", "cm-1", "cm-3", "cm-4"})
      before.push_back(*emu->get(std::string(kConfigMaps) + "/" + name));
    before.push_back(*emu->get(std::string(kWidgets) + "/w"));
    last_rv = emu->resource_version();
  }
  auto emu = start();
  for (const auto& obj : before) {
    const std::string name = obj["metadata"]["name"].get<std::string>();
    const std::string path =
        std::string(obj["kind"] == "Widget" ? kWidgets : kConfigMaps) + "/" + name;
    auto now = emu->get(path);
    ASSERT_TRUE(now.has_value()) << path;
    EXPECT_EQ(*now, obj) << path;  // uid, creationTimestamp, resourceVersion, status: all of it
  }
  EXPECT_EQ((*emu->get(std::string(kConfigMaps) + "/cm-1"))["data"]["v"], "two");
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/cm-2").has_value());
  EXPECT_EQ((*emu->get(std::string(kWidgets) + "/w"))["status"]["phase"], "Ready");
  // The CRD's kind is served again, and the counter resumes above what was there.
  EXPECT_EQ(emu->resource_version(), last_rv);
  auto next = create(*emu, kConfigMaps, config_map("cm-9", "new"));
  EXPECT_GT(rv_of(next), last_rv);
  auto list = emu->call("GET", kConfigMaps);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["items"].size(), 5u);
  EXPECT_GT(std::stoull(list.body["metadata"]["resourceVersion"].get<std::string>()), last_rv);
  EXPECT_EQ(emu->call("GET", "/api/v1/namespaces/default").status, 200);
}

TEST_F(ApiStoreTest, InMemoryByDefaultAndTheFolderIsPrivate) {
  {
    KubeEmulator emu;  // no data_dir
    create(emu, kConfigMaps, config_map("gone", "x"));
  }
  {
    KubeEmulator emu;
    EXPECT_FALSE(emu.get(std::string(kConfigMaps) + "/gone").has_value());
  }
  auto emu = start();
  create(*emu, kConfigMaps, config_map("kept", "x"));
  struct stat st {};
  ASSERT_EQ(::stat(data_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* f : {"snapshot", "log", "lock"}) {
    ASSERT_EQ(::stat((data_ / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

TEST_F(ApiStoreTest, ASecondEmulatorOnTheSameFolderIsRefused) {
  auto emu = start();
  try {
    KubeEmulator second(options());
    FAIL() << "a second emulator opened the folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another API server"), std::string::npos)
        << e.what();
  }
  create(*emu, kConfigMaps, config_map("still", "fine"));
}

TEST_F(ApiStoreTest, GarbageCollectorAndNamespaceDeletionsAreKept) {
  {
    auto emu = start();
    auto owner = create(*emu, kConfigMaps, config_map("owner", "x"));
    json dependent = config_map("dependent", "y");
    dependent["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                                 {"kind", "ConfigMap"},
                                                 {"name", "owner"},
                                                 {"uid", owner["metadata"]["uid"]}}};
    create(*emu, kConfigMaps, dependent);
    ASSERT_EQ(emu->call("POST", "/api/v1/namespaces", {{"metadata", {{"name", "scratch"}}}}).status,
              201);
    create(*emu, "/api/v1/namespaces/scratch/configmaps", config_map("inside", "z"));
    ASSERT_EQ(emu->call("DELETE", std::string(kConfigMaps) + "/owner").status, 200);
    ASSERT_TRUE(
        wait_until([&] { return !emu->get(std::string(kConfigMaps) + "/dependent").has_value(); },
                   std::chrono::seconds(10)));
    ASSERT_EQ(emu->call("DELETE", "/api/v1/namespaces/scratch").status, 200);
  }
  auto emu = start();
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/owner").has_value());
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/dependent").has_value());
  EXPECT_FALSE(emu->get("/api/v1/namespaces/scratch").has_value());
  EXPECT_FALSE(emu->get("/api/v1/namespaces/scratch/configmaps/inside").has_value());
}

TEST_F(ApiStoreTest, ResetIsKept) {
  {
    auto emu = start();
    create(*emu, kConfigMaps, config_map("before-reset", "x"));
    emu->reset();
    create(*emu, kConfigMaps, config_map("after-reset", "y"));
  }
  auto emu = start();
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/before-reset").has_value());
  EXPECT_TRUE(emu->get(std::string(kConfigMaps) + "/after-reset").has_value());
  EXPECT_TRUE(emu->get("/api/v1/namespaces/kube-system").has_value());
}

TEST_F(ApiStoreTest, WatchesAndContinueTokensFromBeforeARestartAreGone) {
  std::string token;
  uint64_t old_rv = 0;
  {
    auto emu = start();
    for (int i = 0; i < 3; ++i)
      create(*emu, kConfigMaps, config_map("cm-" + std::to_string(i), "x"));
    old_rv = rv_of(create(*emu, kConfigMaps, config_map("cm-3", "x"))) - 2;
    auto page = emu->call("GET", std::string(kConfigMaps) + "?limit=1");
    token = page.body["metadata"]["continue"].get<std::string>();
    create(*emu, kConfigMaps, config_map("cm-4", "x"));
  }
  auto emu = start();
  const uint64_t now_rv = emu->resource_version();
  HttpConnection old_watch(emu->port());
  ASSERT_TRUE(old_watch.send(build_request(
      "GET", std::string(kConfigMaps) + "?watch=1&resourceVersion=" + std::to_string(old_rv), "",
      {})));
  EXPECT_TRUE(old_watch.received("\"code\":410")) << "a watch from before the restart";
  auto page = emu->call("GET", std::string(kConfigMaps) + "?limit=1&continue=" + token);
  EXPECT_EQ(page.status, 410) << page.body.dump();

  // From the current resourceVersion nothing was missed: the watch runs and sees what follows.
  HttpConnection watch(emu->port());
  ASSERT_TRUE(watch.send(build_request(
      "GET", std::string(kConfigMaps) + "?watch=1&resourceVersion=" + std::to_string(now_rv), "",
      {})));
  create(*emu, kConfigMaps, config_map("cm-5", "x"));
  EXPECT_TRUE(watch.received("\"name\":\"cm-5\""));
}

TEST_F(ApiStoreTest, ATornLastRecordIsDroppedAndWhatFollowsIsKept) {
  std::string log_with_a;
  std::size_t log_with_b = 0;
  json a;
  {
    auto emu = start();
    a = create(*emu, kConfigMaps, config_map("a", "kept"));
    log_with_a = read_bytes(data_ / "log");
    create(*emu, kConfigMaps, config_map("b", "torn"));
    log_with_b = read_bytes(data_ / "log").size();
  }
  ASSERT_GT(log_with_b, log_with_a.size());
  const std::string full = read_bytes(data_ / "log");
  ASSERT_EQ(full.size(), log_with_b);
  // A crash cut b's append short: half its frame reached the file.
  write_bytes(data_ / "log",
              full.substr(0, log_with_a.size() + (log_with_b - log_with_a.size()) / 2));
  {
    auto emu = start();
    EXPECT_EQ(*emu->get(std::string(kConfigMaps) + "/a"), a);
    EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/b").has_value());
    create(*emu, kConfigMaps, config_map("c", "after the crash"));
  }
  // A whole frame whose bytes do not match their checksum (flipped at the end of the payload).
  {
    auto emu = start();
    create(*emu, kConfigMaps, config_map("d", "flipped"));
  }
  std::string damaged = read_bytes(data_ / "log");
  ASSERT_FALSE(damaged.empty());
  damaged[damaged.size() - 2] ^= 0x20;
  write_bytes(data_ / "log", damaged);
  {
    auto emu = start();
    EXPECT_TRUE(emu->get(std::string(kConfigMaps) + "/a").has_value());
    EXPECT_TRUE(emu->get(std::string(kConfigMaps) + "/c").has_value());
    EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/d").has_value());
    create(*emu, kConfigMaps, config_map("e", "later"));
  }
  // Zeros where a record should be (the file grew, its data never reached the disk).
  write_bytes(data_ / "log", read_bytes(data_ / "log") + std::string(64, '\0'));
  auto emu = start();
  for (const char* name : {"a", "c", "e"})
    EXPECT_TRUE(emu->get(std::string(kConfigMaps) + "/" + name).has_value()) << name;
}

TEST_F(ApiStoreTest, ADamagedSnapshotStopsTheStartRatherThanLoseData) {
  { start(); }
  std::string snapshot = read_bytes(data_ / "snapshot");
  ASSERT_GT(snapshot.size(), 20u);
  snapshot[snapshot.size() / 2] ^= 0x01;
  write_bytes(data_ / "snapshot", snapshot);
  try {
    start();
    FAIL() << "started with a damaged snapshot";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
  }
}

TEST_F(ApiStoreTest, CompactionKeepsTheLogShortAndLosesNothing) {
  EmulatorOptions o = options();
  o.data_compact_bytes = 8 * 1024;
  std::map<std::string, json> expected;
  {
    KubeEmulator emu(o);
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 60; ++i) {
        const std::string name = "cm-" + std::to_string(i);
        auto r = round == 0 ? emu.call("POST", kConfigMaps, config_map(name, "r0"))
                            : emu.call("PUT", std::string(kConfigMaps) + "/" + name,
                                       config_map(name, "r" + std::to_string(round)));
        ASSERT_LT(r.status, 300) << r.body.dump();
        expected[name] = r.body;
      }
    }
    for (int i = 0; i < 60; i += 3) {
      ASSERT_EQ(emu.call("DELETE", std::string(kConfigMaps) + "/cm-" + std::to_string(i)).status,
                200);
      expected.erase("cm-" + std::to_string(i));
    }
    // 280 records of about 300 bytes went through a log that is folded at 8 KiB.
    EXPECT_LT(fs::file_size(data_ / "log"), 2 * o.data_compact_bytes);
    EXPECT_FALSE(fs::exists(data_ / "snapshot.tmp"));
  }
  KubeEmulator emu(o);
  auto list = emu.call("GET", kConfigMaps);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["items"].size(), expected.size());
  for (auto& item : list.body["items"]) {
    const std::string name = item["metadata"]["name"].get<std::string>();
    ASSERT_TRUE(expected.count(name)) << name;
    item.erase("apiVersion");
    item.erase("kind");
    json want = expected[name];
    want.erase("apiVersion");
    want.erase("kind");
    EXPECT_EQ(item, want) << name;
  }
}

TEST_F(ApiStoreTest, ConcurrentWritersAreEachAcknowledgedDurably) {
  constexpr int kThreads = 6;
  constexpr int kEach = 25;
  {
    auto emu = start();
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto r = emu->call("POST", kConfigMaps,
                             config_map("t" + std::to_string(t) + "-" + std::to_string(i), "x"));
          EXPECT_EQ(r.status, 201);
        }
      });
    }
    for (auto& w : writers)
      w.join();
  }
  auto emu = start();
  auto list = emu->call("GET", kConfigMaps);
  EXPECT_EQ(list.body["items"].size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<uint64_t> rvs;
  for (const auto& item : list.body["items"])
    rvs.insert(rv_of(item));
  EXPECT_EQ(rvs.size(), static_cast<std::size_t>(kThreads * kEach)) << "one resourceVersion each";
}

TEST_F(ApiStoreTest, AWriteThatCannotBeLoggedIsRefusedAndSoAreTheNext) {
  {
    auto emu = start();
    auto kept = create(*emu, kConfigMaps, config_map("kept", "x"));
    // The log may grow by 100 bytes more (as on a full disk): the next record does not fit.
    rlimit before{};
    ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &before), 0);
    const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    rlimit small = before;
    small.rlim_cur = fs::file_size(data_ / "log") + 100;
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    auto refused = emu->call("POST", kConfigMaps, config_map("refused", std::string(400, 'y')));
    auto next = emu->call("POST", kConfigMaps, config_map("next", "z"));
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &before), 0);
    ::signal(SIGXFSZ, old_handler);
    EXPECT_EQ(refused.status, 500) << refused.body.dump();
    EXPECT_EQ(refused.body.value("reason", ""), "InternalError");
    EXPECT_NE(refused.body.value("message", "").find("the API store cannot write its log"),
              std::string::npos)
        << refused.body.dump();
    EXPECT_EQ(next.status, 500) << "writes after a failed one are refused: " << next.body.dump();
    // Reads go on.
    EXPECT_EQ(*emu->get(std::string(kConfigMaps) + "/kept"), kept);
  }
  auto emu = start();
  EXPECT_TRUE(emu->get(std::string(kConfigMaps) + "/kept").has_value());
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/refused").has_value());
  EXPECT_FALSE(emu->get(std::string(kConfigMaps) + "/next").has_value());
  create(*emu, kConfigMaps, config_map("later", "fine"));
}

TEST_F(ApiStoreTest, EventsOlderThanAnHourAreDroppedAtStart) {
  {
    auto emu = start();
    json fresh = {{"apiVersion", "v1"},
                  {"kind", "Event"},
                  {"metadata", {{"name", "fresh"}}},
                  {"involvedObject", {{"kind", "ConfigMap"}, {"name", "x"}}},
                  {"reason", "Test"}};
    create(*emu, "/api/v1/namespaces/default/events", fresh);
  }
  // An Event created two hours ago, appended to the log as the store writes it.
  json old = {{"apiVersion", "v1"},
              {"kind", "Event"},
              {"metadata",
               {{"name", "old"},
                {"namespace", "default"},
                {"uid", "00000000-0000-4000-8000-000000000001"},
                {"creationTimestamp", "2000-01-01T00:00:00Z"},
                {"resourceVersion", "900000"}}},
              {"reason", "Test"}};
  json record = {{"rv", 900000}, {"gr", "events"}, {"put", old}};
  write_bytes(data_ / "log", read_bytes(data_ / "log") + frame(record.dump()));
  auto emu = start();
  EXPECT_TRUE(emu->get("/api/v1/namespaces/default/events/fresh").has_value());
  EXPECT_FALSE(emu->get("/api/v1/namespaces/default/events/old").has_value());
  EXPECT_EQ(emu->resource_version(), 900000u) << "its resourceVersion still counts";
}

}  // namespace
}  // namespace kubefn::testing
