#include "common/html/testing/markup_check.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::html::testing {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CheckWellFormedTest, AcceptsBalancedMarkup) {
  EXPECT_THAT(CheckWellFormed(""), IsOk());
  EXPECT_THAT(CheckWellFormed("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                              "<style>td>th{color:#222}</style></head>"
                              "<body><!-- a <comment> --><p class='x'>a &amp; b &#39; &#x2026;"
                              "</p><br></body></html>"),
              IsOk());
  EXPECT_THAT(CheckWellFormed("<svg role=\"img\" viewBox=\"0 0 10 10\"><title>t &lt;x&gt;</title>"
                              "<rect x=\"0\" width=\"1\"/><text>1 %</text></svg>"),
              IsOk());
}

TEST(CheckWellFormedTest, NamesWhatIsWrong) {
  EXPECT_THAT(CheckWellFormed("<svg><g></svg>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("</svg> closes <g>")));
  EXPECT_THAT(CheckWellFormed("<svg><text>a</text>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("<svg> is never closed")));
  EXPECT_THAT(CheckWellFormed("</p>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("closes nothing")));
  EXPECT_THAT(CheckWellFormed("<rect width=1/>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unquoted")));
  EXPECT_THAT(CheckWellFormed("<text>a & b</text>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("starts no entity")));
  EXPECT_THAT(CheckWellFormed("<text>a < b</text>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("starts no tag")));
  EXPECT_THAT(CheckWellFormed("<a title=\"x<y\"></a>"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in an attribute value")));
  EXPECT_THAT(CheckWellFormed("<a title=\"x\""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unterminated")));
}

}  // namespace
}  // namespace kvmfarm::html::testing
