#include "agent/probe/soc_table.h"

#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

// Each clue a device gives finds its row: ro.soc.model, the board platform,
// soc0/machine, Qualcomm's socinfo id.
TEST(LookUpSocTest, NewerSocsByEveryClue) {
  EXPECT_EQ(LookUpSoc("", "zumapro", "", "").marketing_name, "Tensor G4");
  EXPECT_EQ(LookUpSoc("Tensor G4", "", "", "").part, "zumapro");
  EXPECT_EQ(LookUpSoc("SM8750", "", "", "").marketing_name, "Snapdragon 8 Elite");
  EXPECT_EQ(LookUpSoc("", "", "", "618").part, "SM8750");
  EXPECT_EQ(LookUpSoc("", "mt6991", "", "").marketing_name, "Dimensity 9400");
  EXPECT_EQ(LookUpSoc("MT6991", "", "", "").vendor, "mediatek");
  // Tensor G3 is not taken for G4 (zuma is a prefix of zumapro).
  EXPECT_EQ(LookUpSoc("", "zuma", "", "").marketing_name, "Tensor G3");
  EXPECT_TRUE(LookUpSoc("", "nonesuch", "", "").part.empty());
}

}  // namespace
}  // namespace kvmfarm::probe
