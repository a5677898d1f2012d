#include "agent/probe/soc_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace kvmfarm::probe {
namespace {

struct SocRow {
  const char* vendor;
  const char* part;
  const char* marketing_name;
  // Other names the SoC goes by: board platform code names, ro.soc.model values.
  const char* aliases[3];
  // Qualcomm socinfo soc_id, "" for others.
  const char* soc_id;
};

constexpr SocRow kSocs[] = {
    {"qualcomm", "SM8750", "Snapdragon 8 Elite", {"", "", ""}, "618"},
    {"qualcomm", "SM8650", "Snapdragon 8 Gen 3", {"pineapple", "", ""}, "557"},
    {"qualcomm", "SM8550", "Snapdragon 8 Gen 2", {"kalama", "", ""}, "519"},
    {"qualcomm", "SM8475", "Snapdragon 8+ Gen 1", {"cape", "", ""}, "530"},
    {"qualcomm", "SM8450", "Snapdragon 8 Gen 1", {"taro", "", ""}, "457"},
    {"qualcomm", "SM8350", "Snapdragon 888", {"lahaina", "", ""}, "415"},
    {"qualcomm", "SM8250", "Snapdragon 865", {"kona", "", ""}, "356"},
    {"qualcomm", "SM8150", "Snapdragon 855", {"msmnile", "", ""}, "339"},
    {"qualcomm", "SDM845", "Snapdragon 845", {"sdm845", "", ""}, "321"},
    {"qualcomm", "MSM8998", "Snapdragon 835", {"msm8998", "", ""}, "292"},
    {"qualcomm", "MSM8996", "Snapdragon 820", {"msm8996", "", ""}, "246"},
    {"google", "zumapro", "Tensor G4", {"Tensor G4", "", ""}, ""},
    {"google", "zuma", "Tensor G3", {"Tensor G3", "", ""}, ""},
    {"google", "gs201", "Tensor G2", {"Tensor G2", "", ""}, ""},
    {"google", "gs101", "Tensor", {"Tensor", "", ""}, ""},
    {"mediatek", "MT6991", "Dimensity 9400", {"mt6991", "", ""}, ""},
    {"mediatek", "MT6989", "Dimensity 9300", {"mt6989", "", ""}, ""},
    {"mediatek", "MT6985", "Dimensity 9200", {"mt6985", "", ""}, ""},
    {"mediatek", "MT6983", "Dimensity 9000", {"mt6983", "", ""}, ""},
};

bool Matches(const SocRow& row, absl::string_view clue) {
  if (clue.empty()) return false;
  if (absl::EqualsIgnoreCase(clue, row.part)) return true;
  for (const char* alias : row.aliases) {
    if (alias[0] != '\0' && absl::EqualsIgnoreCase(clue, alias)) return true;
  }
  return false;
}

}  // namespace

SocInfo LookUpSoc(absl::string_view soc_model, absl::string_view board_platform,
                  absl::string_view soc_machine, absl::string_view soc_id) {
  for (const SocRow& row : kSocs) {
    if (Matches(row, soc_model) || Matches(row, board_platform) || Matches(row, soc_machine) ||
        (!soc_id.empty() && row.soc_id[0] != '\0' && soc_id == row.soc_id)) {
      return SocInfo{row.vendor, row.part, row.marketing_name};
    }
  }
  return SocInfo();
}

}  // namespace kvmfarm::probe
