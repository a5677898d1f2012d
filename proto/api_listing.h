// -----------------------------------------------------------------------------
// File: api_listing.h
// -----------------------------------------------------------------------------
//
// A canonical text listing of the farm.v1 wire API: every message with its fields
// (name, number, type, label, oneof), every enum with its values, every service
// with its methods. The golden test compares it with proto/api_golden.txt, so a
// change that renames or renumbers anything on the wire fails loudly; adding is
// fine (regenerate the golden file with `bazel run //proto:dump_api`).
#ifndef KVMFARM_PROTO_API_LISTING_H_
#define KVMFARM_PROTO_API_LISTING_H_

#include <string>
#include <vector>

namespace kvmfarm {

// The listing of every .proto file of package farm.v1 linked into the binary.
std::string DescribeFarmApi();

// Violations of the API's naming rules: every enum starts with
// <ENUM_NAME>_UNSPECIFIED = 0 and every value carries the enum's prefix.
std::vector<std::string> CheckEnumRules();

}  // namespace kvmfarm

#endif  // KVMFARM_PROTO_API_LISTING_H_
