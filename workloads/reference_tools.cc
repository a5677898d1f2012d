#include "workloads/reference_tools.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmfarm::workloads {

absl::StatusOr<double> ParseOpensslSpeed(absl::string_view output, absl::string_view row) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.size() < 2 || words.front() != row) continue;
    absl::string_view last = words.back();
    if (!absl::ConsumeSuffix(&last, "k")) continue;
    double thousands = 0;
    if (absl::SimpleAtod(last, &thousands)) return thousands * 1000 / 1e6;
  }
  return absl::NotFoundError(absl::StrCat("no '", row, "' row in openssl speed output"));
}

absl::StatusOr<double> ParseSysbenchMemory(absl::string_view output) {
  const size_t at = output.find(" MiB/sec)");
  if (at == absl::string_view::npos) {
    return absl::NotFoundError("no 'MiB/sec' figure in sysbench output");
  }
  const size_t open = output.rfind('(', at);
  double mib = 0;
  if (open == absl::string_view::npos ||
      !absl::SimpleAtod(output.substr(open + 1, at - open - 1), &mib)) {
    return absl::InvalidArgumentError("garbled sysbench MiB/sec figure");
  }
  return mib * 1048576 / 1e6;
}

}  // namespace kvmfarm::workloads
