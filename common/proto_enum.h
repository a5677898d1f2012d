// -----------------------------------------------------------------------------
// File: proto_enum.h
// -----------------------------------------------------------------------------
//
// A protobuf enum value's name without its type's prefix, for people: the API's
// values carry their enum's name (VERDICT_KVM_READY, STEP_KIND_BENCHMARK) as the
// proto style guide asks, but a report or a table says KVM_READY, BENCHMARK.
//
// Example:
//
//   EnumValueName(farm::v1::VERDICT_KVM_READY) == "KVM_READY"
//   EnumValueName(farm::v1::KVM_ARM_MODE_PROTECTED) == "PROTECTED"
//   EnumValueName(static_cast<farm::v1::Verdict>(99)) == "99"
#ifndef KVMFARM_COMMON_PROTO_ENUM_H_
#define KVMFARM_COMMON_PROTO_ENUM_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/generated_enum_reflection.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {
namespace proto_enum_internal {

// "KvmArmMode" -> "KVM_ARM_MODE_".
inline std::string ValuePrefix(const std::string& enum_name) {
  std::string prefix;
  for (size_t i = 0; i < enum_name.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(enum_name[i])) prefix += '_';
    prefix += absl::ascii_toupper(enum_name[i]);
  }
  return prefix + "_";
}

}  // namespace proto_enum_internal

// The value's name without the enum's UPPER_SNAKE prefix; the number for a value
// the enum doesn't define.
template <typename Enum>
std::string EnumValueName(Enum value) {
  const google::protobuf::EnumDescriptor* type = google::protobuf::GetEnumDescriptor<Enum>();
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(static_cast<int>(value));
  const std::string prefix = proto_enum_internal::ValuePrefix(type->name());
  return absl::StartsWith(v->name(), prefix) ? v->name().substr(prefix.size()) : v->name();
}

// EnumValueName in lower case: "kvm_ready", for tables and command lines.
template <typename Enum>
std::string LowerEnumValueName(Enum value) {
  return absl::AsciiStrToLower(EnumValueName(value));
}

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_PROTO_ENUM_H_
