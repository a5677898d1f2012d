#include "common/logging.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](LogLevel level, absl::string_view line) {
      levels_.push_back(level);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    SetLogSink(nullptr);
    SetMinLogLevel(LogLevel::kInfo);
  }

  std::vector<LogLevel> levels_;
  std::vector<std::string> lines_;
};

TEST_F(LoggingTest, FormatsLevelTimeFileLineAndMessage) {
  FARM_LOG(INFO) << "listening on "
                 << "127.0.0.1:" << 7420;
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_THAT(lines_[0], MatchesRegex("I[0-9]{8} [0-9:.]+ common/logging_test.cc:[0-9]+\\] "
                                      "listening on 127.0.0.1:7420"));
  EXPECT_THAT(levels_, ElementsAre(LogLevel::kInfo));
}

TEST_F(LoggingTest, EachLevelHasItsLetter) {
  SetMinLogLevel(LogLevel::kDebug);
  FARM_LOG(DEBUG) << "d";
  FARM_LOG(INFO) << "i";
  FARM_LOG(WARNING) << "w";
  FARM_LOG(ERROR) << "e";
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_THAT(lines_[0], StartsWith("D"));
  EXPECT_THAT(lines_[1], StartsWith("I"));
  EXPECT_THAT(lines_[2], StartsWith("W"));
  EXPECT_THAT(lines_[3], StartsWith("E"));
}

int g_evaluations = 0;
int CountEvaluation() { return ++g_evaluations; }

TEST_F(LoggingTest, BelowThresholdIsDroppedAndNotEvaluated) {
  SetMinLogLevel(LogLevel::kWarning);
  g_evaluations = 0;
  FARM_LOG(INFO) << "dropped " << CountEvaluation();
  EXPECT_EQ(g_evaluations, 0);
  EXPECT_TRUE(lines_.empty());
  FARM_LOG(ERROR) << "kept " << CountEvaluation();
  EXPECT_EQ(g_evaluations, 1);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_THAT(lines_[0], HasSubstr("kept 1"));
}

TEST_F(LoggingTest, WorksAsTheOnlyStatementOfAnIf) {
  const bool verbose = false;
  if (verbose)
    FARM_LOG(INFO) << "not logged";
  else
    FARM_LOG(INFO) << "logged";
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_THAT(lines_[0], HasSubstr("logged"));
}

}  // namespace
}  // namespace kvmfarm
