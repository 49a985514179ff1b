#include "emulator_client_fixture.hpp"

namespace kubefn::kube::testing {
namespace {

using std::chrono::steady_clock;

const GroupVersionResource kConfigMaps = resources::config_maps();

class RetryTest : public EmulatorClientTest {
 protected:
  void SetUp() override {
    EmulatorClientTest::SetUp();
    ASSERT_THAT(client_->create(kConfigMaps, config_map("target", "1"), {}), IsOk());
  }
};

TEST_F(RetryTest, NetworkFailureIsAValue) {
  ClientConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  RestClientOptions options = fast_retries();
  options.retry.max_attempts = 2;
  auto unreachable = make_client(config, options);
  auto got = unreachable->get({kConfigMaps, "default", "target"});
  ASSERT_THAT(got, StatusIs(StatusCode::kNetworkError));
}

TEST_F(RetryTest, ServerErrorsExhaustTheRetries) {
  emulator_.inject_error("get", "configmaps", 500, 10);
  auto got = client_->get({kConfigMaps, "default", "target"});
  ASSERT_THAT(got, StatusIs(StatusCode::kInternalError));
}

TEST_F(RetryTest, CreateIsNotRetriedAfterServerError) {
  emulator_.inject_error("create", "configmaps", 500, 1);
  auto created = client_->create(kConfigMaps, config_map("once", "1"), {});
  ASSERT_THAT(created, Not(IsOk())) << "a create whose outcome is unknown is not repeated blindly";
  EXPECT_TRUE(created.status().is_server_error());
  EXPECT_THAT(client_->create(kConfigMaps, config_map("once", "1"), {}), IsOk());
}

TEST_F(RetryTest, TransientServerErrorsOnReadsAreRetried) {
  emulator_.inject_error("get", "configmaps", 503, 2);
  auto got = client_->get({kConfigMaps, "default", "target"});
  ASSERT_THAT(got, IsOk());
  emulator_.inject_error("list", "configmaps", 500, 3);
  EXPECT_THAT(client_->list(kConfigMaps, "default", {}), IsOk());
}

TEST_F(RetryTest, TooManyRequestsHonoursRetryAfterOnEveryVerb) {
  emulator_.inject_error("create", "configmaps", 429, 1, /*retry_after_s=*/1);
  const auto started = steady_clock::now();
  auto created = client_->create(kConfigMaps, config_map("throttled", "1"), {});
  const auto elapsed = steady_clock::now() - started;
  ASSERT_THAT(created, IsOk());
  EXPECT_GE(elapsed, std::chrono::milliseconds(950)) << "waited for Retry-After, not the backoff";
}

TEST_F(RetryTest, UpdateWithResourceVersionIsRetried) {
  auto current = client_->get({kConfigMaps, "default", "target"});
  ASSERT_THAT(current, IsOk());
  (*current)["data"]["value"] = "2";
  emulator_.inject_error("update", "configmaps", 500, 2);
  auto updated = client_->update(kConfigMaps, *current, {});
  ASSERT_THAT(updated, IsOk());
  EXPECT_EQ((*updated)["data"]["value"], "2");
}

TEST_F(RetryTest, ConflictsAreNotRetried) {
  auto current = client_->get({kConfigMaps, "default", "target"});
  ASSERT_THAT(current, IsOk());
  emulator_.inject_error("update", "configmaps", 409, 1);
  auto updated = client_->update(kConfigMaps, *current, {});
  ASSERT_THAT(updated, StatusIs(StatusCode::kConflict));
  EXPECT_THAT(client_->update(kConfigMaps, *current, {}), IsOk()) << "only the injected one failed";
}

}  // namespace
}  // namespace kubefn::kube::testing
