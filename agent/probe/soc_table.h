// -----------------------------------------------------------------------------
// File: soc_table.h
// -----------------------------------------------------------------------------
//
// SoC part ids, board platforms and Qualcomm soc_ids -> vendor and marketing name,
// as data. Sources: Qualcomm's and MediaTek's product pages, the Linux kernel's
// drivers/soc/qcom/socinfo.c (soc_id numbers), and AOSP device trees (board
// platform code names). See tests/fixtures/devices/README.md.
#ifndef KVMFARM_AGENT_PROBE_SOC_TABLE_H_
#define KVMFARM_AGENT_PROBE_SOC_TABLE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kvmfarm::probe {

struct SocInfo {
  std::string vendor;          // "qualcomm", "google", "mediatek"
  std::string part;            // "SM8650"
  std::string marketing_name;  // "Snapdragon 8 Gen 3"
};

// Looks up any of the clues (case-insensitive); empty fields are skipped. Returns
// an entry with empty fields when nothing matches.
SocInfo LookUpSoc(absl::string_view soc_model, absl::string_view board_platform,
                  absl::string_view soc_machine, absl::string_view soc_id);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_SOC_TABLE_H_
