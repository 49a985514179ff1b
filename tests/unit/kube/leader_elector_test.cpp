#include "kubefn/kube/leader_elector.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "kubefn/kube/fake_clock.hpp"
#include "kubefn/testing/fakes/fake_kube_client.hpp"
#include "kubefn/testing/status_matchers.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::kube {
namespace {

using kubefn::testing::FakeKubeClient;
using kubefn::testing::IsOk;
using kubefn::testing::StatusIs;
using kubefn::testing::wait_until;
using std::chrono::seconds;

LeaderElectionConfig config_for(const std::string& identity) {
  LeaderElectionConfig config;
  config.lease_namespace = "kubefn-system";
  config.lease_name = "kubefn-operator";
  config.identity = identity;
  config.lease_duration = seconds(15);
  config.renew_deadline = seconds(10);
  config.retry_period = seconds(2);
  return config;
}

const ObjectRef kLease{resources::leases(), "kubefn-system", "kubefn-operator"};

class LeaderElectorTest : public ::testing::Test {
 protected:
  nlohmann::json lease_spec() { return (*client.get(kLease))["spec"]; }

  FakeClock clock;
  FakeKubeClient client;
};

TEST_F(LeaderElectorTest, ApiErrorsAreReportedNotLeading) {
  LeaderElector a(client, clock, config_for("a"), {});
  client.fail_next("get", Status(StatusCode::kInternalError, "boom"));
  auto result = a.try_acquire_or_renew();
  ASSERT_THAT(result, StatusIs(StatusCode::kInternalError));
  EXPECT_FALSE(a.is_leader());
}

TEST_F(LeaderElectorTest, LosesTheRaceToCreate) {
  LeaderElector a(client, clock, config_for("a"), {});
  client.fail_next("create", Status(StatusCode::kAlreadyExists, "exists"));
  auto result = a.try_acquire_or_renew();
  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(*result);
}

TEST_F(LeaderElectorTest, ConflictOnUpdateMeansNotLeading) {
  LeaderElector a(client, clock, config_for("a"), {});
  ASSERT_TRUE(*a.try_acquire_or_renew());
  client.fail_next("update", Status(StatusCode::kConflict, "modified"));
  auto result = a.try_acquire_or_renew();
  ASSERT_THAT(result, IsOk());
  EXPECT_FALSE(*result);
}

TEST_F(LeaderElectorTest, CreatesTheLeaseWhenAbsent) {
  LeaderElector a(client, clock, config_for("a"), {});
  auto result = a.try_acquire_or_renew();
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(*result);
  const auto spec = lease_spec();
  EXPECT_EQ(spec["holderIdentity"], "a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["acquireTime"], spec["renewTime"]);
  EXPECT_EQ(a.observed_leader(), "a");
}

TEST_F(LeaderElectorTest, RenewKeepsAcquireTimeAndMovesRenewTime) {
  LeaderElector a(client, clock, config_for("a"), {});
  ASSERT_TRUE(*a.try_acquire_or_renew());
  const auto first = lease_spec();
  clock.advance(seconds(2));
  ASSERT_TRUE(*a.try_acquire_or_renew());
  const auto second = lease_spec();
  EXPECT_EQ(second["acquireTime"], first["acquireTime"]);
  EXPECT_NE(second["renewTime"], first["renewTime"]);
  EXPECT_EQ(second["leaseTransitions"], 0);
}

TEST_F(LeaderElectorTest, OtherCandidateWaitsUntilTheLeaseExpiresLocally) {
  LeaderElector a(client, clock, config_for("a"), {});
  std::string seen_leader;
  LeaderCallbacks callbacks;
  callbacks.on_new_leader = [&](const std::string& identity) { seen_leader = identity; };
  LeaderElector b(client, clock, config_for("b"), callbacks);
  ASSERT_TRUE(*a.try_acquire_or_renew());

  EXPECT_FALSE(*b.try_acquire_or_renew());
  EXPECT_EQ(seen_leader, "a");
  EXPECT_EQ(b.observed_leader(), "a");
  clock.advance(seconds(14));
  EXPECT_FALSE(*b.try_acquire_or_renew()) << "15 s have not passed since b saw the record";
  clock.advance(seconds(1));
  ASSERT_TRUE(*b.try_acquire_or_renew());
  const auto spec = lease_spec();
  EXPECT_EQ(spec["holderIdentity"], "b");
  EXPECT_EQ(spec["leaseTransitions"], 1);
  EXPECT_EQ(spec["acquireTime"], spec["renewTime"]);
}

TEST_F(LeaderElectorTest, RenewalsByTheHolderKeepOthersOut) {
  LeaderElector a(client, clock, config_for("a"), {});
  LeaderElector b(client, clock, config_for("b"), {});
  ASSERT_TRUE(*a.try_acquire_or_renew());
  for (int i = 0; i < 20; ++i) {
    clock.advance(seconds(2));
    ASSERT_TRUE(*a.try_acquire_or_renew());
    EXPECT_FALSE(*b.try_acquire_or_renew()) << "round " << i;
  }
}

TEST_F(LeaderElectorTest, ReleaseLetsAnotherTakeOverAtOnce) {
  LeaderElector a(client, clock, config_for("a"), {});
  LeaderElector b(client, clock, config_for("b"), {});
  ASSERT_TRUE(*a.try_acquire_or_renew());
  EXPECT_FALSE(*b.try_acquire_or_renew());
  ASSERT_THAT(a.release(), IsOk());
  EXPECT_EQ(lease_spec()["holderIdentity"], "");
  EXPECT_EQ(lease_spec()["leaseDurationSeconds"], 1);
  EXPECT_TRUE(*b.try_acquire_or_renew());
  EXPECT_THAT(b.release(), IsOk());
  EXPECT_THAT(a.release(), IsOk()) << "releasing a lease held by nobody is a no-op";
}

TEST_F(LeaderElectorTest, RunLoopLeadsRenewsAndReleasesOnStop) {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  LeaderCallbacks callbacks;
  callbacks.on_started_leading = [&] { ++started; };
  callbacks.on_stopped_leading = [&] { ++stopped; };
  LeaderElector a(client, clock, config_for("a"), callbacks);
  LeaderElector b(client, clock, config_for("b"), {});
  a.start();
  ASSERT_TRUE(wait_until([&] { return a.is_leader(); }, seconds(5)));
  b.start();
  ASSERT_TRUE(wait_until([&] { return b.observed_leader() == "a"; }, seconds(5)));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(wait_until([&] { return clock.waiters() >= 2; }, seconds(5)));
    clock.advance(seconds(2));
  }
  EXPECT_TRUE(a.is_leader());
  EXPECT_FALSE(b.is_leader());

  a.stop();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(stopped, 1);
  EXPECT_NE(lease_spec()["holderIdentity"], "a") << "released (b may already hold it)";
  // b notices the released lease on its next retry.
  ASSERT_TRUE(wait_until(
      [&] {
        clock.advance(seconds(2));
        return b.is_leader();
      },
      seconds(5)));
  b.stop();
}

TEST_F(LeaderElectorTest, AFailedReleaseOnStopIsReported) {
  std::atomic<int> failed{0};
  std::string error;
  LeaderCallbacks callbacks;
  callbacks.on_release_failed = [&](const Status& s) {
    error = s.to_string();
    ++failed;
  };
  LeaderElector a(client, clock, config_for("a"), callbacks);
  a.start();
  ASSERT_TRUE(wait_until([&] { return a.is_leader(); }, seconds(5)));
  client.fail_next("get", Status(StatusCode::kForbidden, "leases is forbidden"));
  a.stop();
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(error, "Forbidden: leases is forbidden");
  EXPECT_EQ(lease_spec()["holderIdentity"], "a") << "not released";
}

TEST_F(LeaderElectorTest, LosesLeadershipWhenRenewalsFailPastTheDeadline) {
  std::atomic<int> stopped{0};
  LeaderCallbacks callbacks;
  callbacks.on_stopped_leading = [&] { ++stopped; };
  LeaderElector a(client, clock, config_for("a"), callbacks);
  a.start();
  ASSERT_TRUE(wait_until([&] { return a.is_leader(); }, seconds(5)));
  for (int i = 0; i < 100; ++i)
    client.fail_next("get", Status(StatusCode::kInternalError, "down"));
  // Renewals every 2 s fail; after 10 s without one the elector gives up.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(wait_until([&] { return clock.waiters() >= 1; }, seconds(5)));
    clock.advance(seconds(2));
  }
  EXPECT_TRUE(a.is_leader()) << "8 s without renewal is within the deadline";
  ASSERT_TRUE(wait_until(
      [&] {
        clock.advance(seconds(2));
        return !a.is_leader();
      },
      seconds(5)));
  EXPECT_EQ(stopped, 1);
  a.stop();
}

TEST_F(LeaderElectorTest, LosesLeadershipWhenAnotherWritesTheLease) {
  LeaderElector a(client, clock, config_for("a"), {});
  a.start();
  ASSERT_TRUE(wait_until([&] { return a.is_leader(); }, seconds(5)));
  // Another holder takes the lease (e.g. after a long pause of ours).
  auto lease = *client.get(kLease);
  lease["spec"]["holderIdentity"] = "intruder";
  client.put_object(resources::leases(), lease);
  ASSERT_TRUE(wait_until(
      [&] {
        clock.advance(seconds(2));
        return !a.is_leader();
      },
      seconds(5)));
  EXPECT_EQ(a.observed_leader(), "intruder");
  a.stop();
  EXPECT_EQ(lease_spec()["holderIdentity"], "intruder") << "stop must not release another's lease";
}

}  // namespace
}  // namespace kubefn::kube
