#include "agent/shared_probe.h"

#include <atomic>
#include <vector>

#include "agent/testing/probe_gate.h"
#include "common/testing/wait_for.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using testing::WaitFor;

// What the held probe finds.
SharedProbe::Result Probed() {
  farm::v1::KvmCapability capability;
  capability.mutable_device()->set_device_id("probed");
  return capability;
}

TEST(SharedProbeTest, ConcurrentCallersShareOneProbe) {
  testing::ProbeGate gated;
  SharedProbe probe([&] { return gated.Run(Probed); });
  std::atomic<int> answered{0};
  for (int i = 0; i < 100; ++i) {
    probe.Join([&](const SharedProbe::Result& result) {
      if (result.ok() && result->device().device_id() == "probed") answered.fetch_add(1);
    });
  }
  ASSERT_TRUE(WaitFor([&] { return gated.started() == 1; }));
  gated.Release();
  ASSERT_TRUE(WaitFor([&] { return answered.load() == 100; }));
  EXPECT_EQ(gated.started(), 1);
  EXPECT_EQ(probe.probes_started(), 1);
}

TEST(SharedProbeTest, ACallerAfterTheProbeEndedStartsANewOne) {
  testing::ProbeGate gated;
  gated.Release();
  SharedProbe probe([&] { return gated.Run(Probed); });
  std::atomic<int> answered{0};
  probe.Join([&](const SharedProbe::Result&) { answered.fetch_add(1); });
  ASSERT_TRUE(WaitFor([&] { return answered.load() == 1; }));
  probe.Join([&](const SharedProbe::Result&) { answered.fetch_add(1); });
  ASSERT_TRUE(WaitFor([&] { return answered.load() == 2; }));
  EXPECT_EQ(gated.started(), 2);
}

// The probe in flight can't be interrupted: it ends once, unheard, and no caller
// that left starts another.
TEST(SharedProbeTest, CallersThatLeftGetNothingAndStartNoFurtherProbe) {
  testing::ProbeGate gated;
  SharedProbe probe([&] { return gated.Run(Probed); });
  std::atomic<int> answered{0};
  std::vector<SharedProbe::Ticket> tickets;
  tickets.push_back(probe.Join([&](const SharedProbe::Result&) { answered.fetch_add(1); }));
  ASSERT_TRUE(WaitFor([&] { return gated.started() == 1; }));
  for (int i = 0; i < 49; ++i) {
    tickets.push_back(probe.Join([&](const SharedProbe::Result&) { answered.fetch_add(1); }));
  }
  for (SharedProbe::Ticket ticket : tickets) EXPECT_TRUE(probe.Leave(ticket));
  EXPECT_EQ(probe.waiting(), 0);
  gated.Release();
  ASSERT_TRUE(WaitFor([&] { return gated.finished() == 1; }));
  EXPECT_EQ(answered.load(), 0);
  EXPECT_EQ(probe.probes_started(), 1);
  EXPECT_FALSE(probe.Leave(tickets.front()));
}

}  // namespace
}  // namespace kvmfarm
