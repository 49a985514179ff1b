#include <atomic>

#include "emulator_client_fixture.hpp"
#include "kubefn/kube/leader_elector.hpp"

namespace kubefn::kube::testing {
namespace {

using std::chrono::milliseconds;

LeaderElectionConfig candidate(const std::string& identity) {
  LeaderElectionConfig config;
  config.lease_namespace = "default";
  config.lease_name = "kubefn-operator";
  config.identity = identity;
  config.lease_duration = std::chrono::seconds(2);
  config.renew_deadline = milliseconds(1500);
  config.retry_period = milliseconds(100);
  return config;
}

class LeaderElectionTest : public EmulatorClientTest {};

TEST_F(LeaderElectionTest, OneLeadsAndTheOtherTakesOverWhenItStops) {
  auto second_client = make_client();
  std::atomic<int> leaders{0};
  std::atomic<int> max_leaders{0};
  auto track = [&](int delta) {
    const int now = leaders += delta;
    int seen = max_leaders;
    while (now > seen && !max_leaders.compare_exchange_weak(seen, now)) {
    }
  };
  LeaderCallbacks callbacks{[&] { track(+1); }, [&] { track(-1); }, nullptr, nullptr};
  auto a = std::make_unique<LeaderElector>(*client_, clock_, candidate("a"), callbacks);
  auto b = std::make_unique<LeaderElector>(*second_client, clock_, candidate("b"), callbacks);
  a->start();
  b->start();
  ASSERT_TRUE(
      wait_until([&] { return a->is_leader() || b->is_leader(); }, std::chrono::seconds(10)));
  // Hold for a few renewals: exactly one leads.
  ASSERT_FALSE(wait_until([&] { return a->is_leader() && b->is_leader(); }, milliseconds(600)));
  auto& leader = a->is_leader() ? a : b;
  auto& follower = a->is_leader() ? b : a;
  const std::string leader_name = leader->observed_leader();
  EXPECT_EQ(follower->observed_leader(), leader_name);

  leader->stop();
  ASSERT_TRUE(wait_until([&] { return follower->is_leader(); }, std::chrono::seconds(2)))
      << "takes over within the lease duration";
  auto lease = client_->get({resources::leases(), "default", "kubefn-operator"});
  ASSERT_THAT(lease, IsOk());
  EXPECT_NE((*lease)["spec"]["holderIdentity"], leader_name);
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  follower->stop();
  EXPECT_EQ(max_leaders, 1) << "never two leaders at once";
}

TEST_F(LeaderElectionTest, ExpiredLeaseOfASilentHolderIsTaken) {
  // A holder that vanished without releasing: its lease must expire before anyone takes it.
  nlohmann::json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                          {"kind", "Lease"},
                          {"metadata", {{"name", "kubefn-operator"}, {"namespace", "default"}}},
                          {"spec",
                           {{"holderIdentity", "ghost"},
                            {"leaseDurationSeconds", 1},
                            {"renewTime", format_micro_time(clock_.wall_now())}}}};
  ASSERT_THAT(client_->create(resources::leases(), lease, {}), IsOk());
  LeaderElector b(*client_, clock_, candidate("b"), {});
  const auto started = std::chrono::steady_clock::now();
  b.start();
  ASSERT_TRUE(wait_until([&] { return b.observed_leader() == "ghost"; }, std::chrono::seconds(10)));
  ASSERT_TRUE(wait_until([&] { return b.is_leader(); }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(900));
  b.stop();
}

}  // namespace
}  // namespace kubefn::kube::testing
