// Guards the farm.v1 wire API: names and numbers of every message, field, enum
// value and RPC must stay as recorded in proto/api_golden.txt.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/api_listing.h"

namespace kvmfarm {
namespace {

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    lines.emplace(line);
  }
  return lines;
}

std::string ReadGolden() {
  const std::string path =
      std::string(std::getenv("TEST_SRCDIR")) + "/kvmfarm/proto/api_golden.txt";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ApiGoldenTest, NothingOnTheWireWasRenamedOrRenumbered) {
  const std::string golden = ReadGolden();
  ASSERT_FALSE(golden.empty()) << "proto/api_golden.txt is missing or empty";
  const std::set<std::string> now = Lines(DescribeFarmApi());
  std::vector<std::string> gone;
  for (const std::string& line : Lines(golden)) {
    if (!now.count(line)) gone.push_back(line);
  }
  EXPECT_TRUE(gone.empty())
      << "These lines of proto/api_golden.txt no longer hold: a name, number, type "
         "or streaming mode changed on the wire, which breaks deployed agents and "
         "stored results. Add a new field or RPC instead:\n  "
      << absl::StrJoin(gone, "\n  ");
}

TEST(ApiGoldenTest, TheGoldenFileListsEverythingThereIs) {
  const std::set<std::string> golden = Lines(ReadGolden());
  std::vector<std::string> added;
  for (const std::string& line : Lines(DescribeFarmApi())) {
    if (!golden.count(line)) added.push_back(line);
  }
  EXPECT_TRUE(added.empty())
      << "The API gained lines the golden file doesn't record. If the addition is "
         "deliberate, run `bazel run //proto:dump_api > proto/api_golden.txt`:\n  "
      << absl::StrJoin(added, "\n  ");
}

TEST(ApiRulesTest, EveryEnumStartsUnspecifiedAndCarriesItsPrefix) {
  EXPECT_THAT(CheckEnumRules(), ::testing::IsEmpty());
}

TEST(ApiRulesTest, ListingCoversAllThreeFilesAndServices) {
  const std::string listing = DescribeFarmApi();
  for (const char* file : {"common", "agent", "controller"}) {
    EXPECT_THAT(listing, ::testing::HasSubstr(std::string("file farm/v1/") + file +
                                              ".proto package farm.v1\n"));
  }
  EXPECT_THAT(listing, ::testing::HasSubstr("service farm.v1.AgentService"));
  EXPECT_THAT(listing, ::testing::HasSubstr("service farm.v1.ControllerService"));
  EXPECT_THAT(listing, ::testing::HasSubstr("rpc RunBenchmark(farm.v1.RunBenchmarkRequest) "
                                            "returns (stream farm.v1.RunBenchmarkResponse)"));
}

}  // namespace
}  // namespace kvmfarm
