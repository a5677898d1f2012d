#include "common/tls/spiffe_id.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;

TEST(SpiffeIdTest, ParsesEachKindAndPrintsItBack) {
  for (const char* uri : {"spiffe://lab1/controller/c1", "spiffe://lab1/device/pixel-7.a",
                          "spiffe://lab-2/operator/alice"}) {
    absl::StatusOr<SpiffeId> id = ParseSpiffeId(uri);
    ASSERT_THAT(id, IsOk()) << uri;
    EXPECT_EQ(id->ToString(), uri);
  }
  absl::StatusOr<SpiffeId> device = ParseSpiffeId("spiffe://lab1/device/d1");
  ASSERT_THAT(device, IsOk());
  EXPECT_EQ(device->lab, "lab1");
  EXPECT_EQ(device->kind, SpiffeId::Kind::kDevice);
  EXPECT_EQ(device->name, "d1");
}

TEST(SpiffeIdTest, RefusesWhatIsNotAKvmfarmIdentity) {
  for (const char* uri :
       {"", "spiffe://lab1/device", "spiffe://lab1/device/d1/x", "https://lab1/device/d1",
        "spiffe://lab1/admin/root", "spiffe://lab1/device/../d1", "spiffe:///device/d1",
        "spiffe://lab1/device/-d1", "SPIFFE://lab1/device/d1"}) {
    EXPECT_THAT(ParseSpiffeId(uri), StatusIs(absl::StatusCode::kInvalidArgument)) << uri;
  }
}

}  // namespace
}  // namespace kvmfarm
