#include "controller/paging/page_token.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::paging {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

constexpr PageSizes kSizes{/*default_size=*/10, /*max_size=*/50};

TEST(PageTokenTest, NoTokenIsTheFirstPageAndTheSizeIsDefaultedAndCapped) {
  absl::StatusOr<PageRequest> page = ReadPageRequest("sweeps", "", "", 0, kSizes);
  ASSERT_THAT(page, IsOk());
  EXPECT_FALSE(page->after.has_value());
  EXPECT_EQ(page->size, 10);
  EXPECT_EQ(ReadPageRequest("sweeps", "", "", 7, kSizes)->size, 7);
  EXPECT_EQ(ReadPageRequest("sweeps", "", "", 4000000000u, kSizes)->size, 50);
}

TEST(PageTokenTest, ATokenReadsBackAsTheKeyItWasIssuedAfter) {
  // Ids and filters may hold the token's own separators and any byte.
  const PageKey last{-1234567890123, std::string("s.1\0/+=", 7)};
  const std::string token = NextPageToken("sweeps", "states=1.2", last);
  absl::StatusOr<PageRequest> page = ReadPageRequest("sweeps", "states=1.2", token, 5, kSizes);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->after, Optional(last));
  EXPECT_EQ(page->size, 5);
}

TEST(PageTokenTest, AnInventedTokenIsInvalidArgumentNamingTheField) {
  for (const std::string& token : {std::string("abc"), std::string("next"), std::string("!!!"),
                                   NextPageToken("sweeps", "", PageKey{1, "x"}).substr(3)}) {
    EXPECT_THAT(ReadPageRequest("sweeps", "", token, 0, kSizes),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")))
        << token;
  }
}

TEST(PageTokenTest, ATokenOfAnotherListOrFilterIsRefused) {
  const std::string token = NextPageToken("sweeps", "states=1", PageKey{1, "x"});
  EXPECT_THAT(ReadPageRequest("devices", "states=1", token, 0, kSizes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("issued for sweeps")));
  EXPECT_THAT(ReadPageRequest("sweeps", "states=2", token, 0, kSizes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("different filter")));
}

TEST(PageTokenTest, TrimToPageKeepsThePageAndPointsAfterItsLastItem) {
  const PageRequest page{std::nullopt, 2};
  auto key_of = [](int item) { return PageKey{item, ""}; };
  auto size_of = [](int) { return size_t{1}; };
  std::vector<int> full = {9, 8, 7};
  const std::string token = TrimToPage(&full, page, "l", "", key_of, size_of, 100);
  EXPECT_THAT(full, ElementsAre(9, 8));
  EXPECT_THAT(ReadPageRequest("l", "", token, 2, kSizes)->after, Optional(PageKey{8, ""}));

  std::vector<int> last = {6, 5};
  EXPECT_EQ(TrimToPage(&last, page, "l", "", key_of, size_of, 100), "");
  EXPECT_THAT(last, ElementsAre(6, 5));
}

TEST(PageTokenTest, APageStaysUnderItsByteLimitButHoldsAtLeastOneItem) {
  const PageRequest page{std::nullopt, 10};
  auto key_of = [](int item) { return PageKey{item, ""}; };
  auto size_of = [](int item) { return static_cast<size_t>(item); };  // an item's size is itself
  std::vector<int> items = {40, 50, 30, 1};
  std::string token = TrimToPage(&items, page, "l", "", key_of, size_of, 100);
  EXPECT_THAT(items, ElementsAre(40, 50));  // 40 + 50 + 30 > 100
  EXPECT_THAT(ReadPageRequest("l", "", token, 10, kSizes)->after, Optional(PageKey{50, ""}));

  std::vector<int> huge = {500, 1};
  token = TrimToPage(&huge, page, "l", "", key_of, size_of, 100);
  EXPECT_THAT(huge, ElementsAre(500));
  EXPECT_FALSE(token.empty());
}

}  // namespace
}  // namespace kvmfarm::paging
