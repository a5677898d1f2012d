// -----------------------------------------------------------------------------
// File: testing/sample_lab.h
// -----------------------------------------------------------------------------
//
// A small lab's history written through the Store API, as a controller would have
// written it: three devices of two models with labels and history, three sweeps
// (capability verdicts that change, native and TCG figures that move), attempts
// with console logs (one task retried), and a late duplicate result refused. For
// tests of what moves or restores a whole lab: its GetMatrix and CompareSweeps
// are not trivial.
//
// Example:
//
//   ASSERT_THAT(FillSampleLab(*store), IsOk());
#ifndef KVMFARM_CONTROLLER_STORE_TESTING_SAMPLE_LAB_H_
#define KVMFARM_CONTROLLER_STORE_TESTING_SAMPLE_LAB_H_

#include "absl/status/status.h"
#include "controller/store/store.h"

namespace kvmfarm::store::testing {

absl::Status FillSampleLab(Store& store);

}  // namespace kvmfarm::store::testing

#endif  // KVMFARM_CONTROLLER_STORE_TESTING_SAMPLE_LAB_H_
