#include "common/utf8.h"

#include <cstddef>

namespace kvmfarm {
namespace {

// How a well-formed sequence may go on after its lead byte (RFC 3629, Unicode
// table 3-7): the number of continuation bytes, and the range allowed for the first
// of them (narrower after E0, ED, F0, F4: no overlong forms, surrogates or code
// points past U+10FFFF). `continuations` is 0 for a byte that cannot lead.
struct LeadByte {
  size_t continuations = 0;
  unsigned char first_min = 0x80;
  unsigned char first_max = 0xBF;
};

LeadByte Lead(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return {1};
  if (c == 0xE0) return {2, 0xA0, 0xBF};
  if (c == 0xED) return {2, 0x80, 0x9F};
  if (c >= 0xE1 && c <= 0xEF) return {2};
  if (c == 0xF0) return {3, 0x90, 0xBF};
  if (c >= 0xF1 && c <= 0xF3) return {3};
  if (c == 0xF4) return {3, 0x80, 0x8F};
  return {};
}

}  // namespace

std::string ValidUtf8(absl::string_view bytes) {
  std::string text;
  text.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      text.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const LeadByte lead = Lead(c);
    // The sequence's length as far as it is well formed: the lead byte and as many
    // continuation bytes as fit.
    size_t length = 1;
    while (length <= lead.continuations && i + length < bytes.size()) {
      const unsigned char next = static_cast<unsigned char>(bytes[i + length]);
      const unsigned char min = length == 1 ? lead.first_min : 0x80;
      const unsigned char max = length == 1 ? lead.first_max : 0xBF;
      if (next < min || next > max) break;
      ++length;
    }
    if (lead.continuations > 0 && length == lead.continuations + 1) {
      text.append(bytes.data() + i, length);
    } else {
      text.append(kUtf8Replacement.data(), kUtf8Replacement.size());
    }
    i += length;
  }
  return text;
}

}  // namespace kvmfarm
