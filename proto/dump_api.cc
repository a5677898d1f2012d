// Prints the farm.v1 API listing that proto/api_golden.txt holds.
//
// After a deliberate, compatible change (added fields, messages, values, RPCs):
//   bazel run //proto:dump_api > proto/api_golden.txt
#include <iostream>

#include "proto/api_listing.h"

int main() {
  std::cout << kvmfarm::DescribeFarmApi();
  return 0;
}
