// -----------------------------------------------------------------------------
// File: utf8.h
// -----------------------------------------------------------------------------
//
// Text from a device (a sysfs file, a property, a command's output) is bytes, and
// a device may hold any: a mangled SoC name, a property with \xff. Put in a proto
// `string` field such bytes make the message unparseable (the controller refuses a
// registration that carries them) and `--probe --json` invalid. So every reader of
// device text passes it through ValidUtf8 once, where it is read.
//
// Example:
//
//   ASSIGN_OR_RETURN(ProcessResult result, RunProcess(spec));
//   const std::string text = ValidUtf8(result.stdout_data);
#ifndef KVMFARM_COMMON_UTF8_H_
#define KVMFARM_COMMON_UTF8_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kvmfarm {

// U+FFFD REPLACEMENT CHARACTER, as UTF-8.
inline constexpr absl::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// `bytes` with every ill-formed sequence replaced by U+FFFD, one per maximal
// ill-formed subpart (Unicode's recommended practice, as browsers do): a bad byte
// shows, and the character after a truncated sequence is kept ("\xc3" "a" becomes
// U+FFFD "a"). Valid UTF-8 comes back unchanged.
std::string ValidUtf8(absl::string_view bytes);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_UTF8_H_
