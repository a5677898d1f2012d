// -----------------------------------------------------------------------------
// File: testing/promtool.h
// -----------------------------------------------------------------------------
//
// Prometheus' own linter for tests of /metrics: `promtool check metrics` (Debian's
// prometheus package, installed by tools/setup.sh) on an exposition text.
//
// Example:
//
//   EXPECT_EQ(PromtoolComplaints(*text), "");
#ifndef KVMFARM_CONTROLLER_HTTP_TESTING_PROMTOOL_H_
#define KVMFARM_CONTROLLER_HTTP_TESTING_PROMTOOL_H_

#include <string>

namespace kvmfarm::http::testing {

// promtool's complaints about `text`, empty when there are none.
std::string PromtoolComplaints(const std::string& text);

}  // namespace kvmfarm::http::testing

#endif  // KVMFARM_CONTROLLER_HTTP_TESTING_PROMTOOL_H_
