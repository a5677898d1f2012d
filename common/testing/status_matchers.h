// -----------------------------------------------------------------------------
// File: testing/status_matchers.h
// -----------------------------------------------------------------------------
//
// GoogleMock matchers for absl::Status and absl::StatusOr<T>.
//
// Example:
//
//   EXPECT_THAT(store.Open(path), IsOk());
//   EXPECT_THAT(ParseCpuinfo(""), StatusIs(absl::StatusCode::kInvalidArgument,
//                                          HasSubstr("empty")));
//   EXPECT_THAT(ParseVersion("12"), IsOkAndHolds(12));
#ifndef KVMFARM_COMMON_TESTING_STATUS_MATCHERS_H_
#define KVMFARM_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace kvmfarm {
namespace testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches an absl::StatusOr<T> that is OK and whose value matches `inner`.
template <typename StatusOrType>
class IsOkAndHoldsMatcherImpl : public ::testing::MatcherInterface<const StatusOrType&> {
 public:
  using Value = typename std::decay_t<StatusOrType>::value_type;

  explicit IsOkAndHoldsMatcherImpl(::testing::Matcher<const Value&> inner)
      : inner_(std::move(inner)) {}

  void DescribeTo(std::ostream* os) const override {
    *os << "is OK and has a value that ";
    inner_.DescribeTo(os);
  }

  bool MatchAndExplain(const StatusOrType& actual,
                       ::testing::MatchResultListener* listener) const override {
    if (!actual.ok()) {
      *listener << "which has status " << actual.status();
      return false;
    }
    ::testing::StringMatchResultListener inner_listener;
    const bool matches = inner_.MatchAndExplain(*actual, &inner_listener);
    *listener << "which contains value " << ::testing::PrintToString(*actual);
    const std::string explanation = inner_listener.str();
    if (!explanation.empty()) *listener << ", " << explanation;
    return matches;
  }

 private:
  ::testing::Matcher<const Value&> inner_;
};

template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename StatusOrType>
  operator ::testing::Matcher<StatusOrType>() const {  // NOLINT
    using Value = typename std::decay_t<StatusOrType>::value_type;
    return ::testing::Matcher<StatusOrType>(
        new IsOkAndHoldsMatcherImpl<const std::decay_t<StatusOrType>&>(
            ::testing::SafeMatcherCast<const Value&>(inner_)));
  }

 private:
  InnerMatcher inner_;
};

}  // namespace internal

// Matches an OK absl::Status or absl::StatusOr<T>.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = internal::GetStatus(arg);
  if (!status.ok()) *result_listener << "which has status " << status;
  return status.ok();
}

// Matches a status (or StatusOr) with the given code and a message matching
// `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + ::testing::PrintToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher, negation)) {
  const absl::Status& status = internal::GetStatus(arg);
  *result_listener << "which has status " << status;
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// Matches a status (or StatusOr) with the given code, whatever the message.
MATCHER_P(StatusIs, code, "has code " + ::testing::PrintToString(code)) {
  const absl::Status& status = internal::GetStatus(arg);
  *result_listener << "which has status " << status;
  return status.code() == code;
}

// Matches an OK absl::StatusOr<T> whose value matches `inner`.
template <typename InnerMatcher>
internal::IsOkAndHoldsMatcher<InnerMatcher> IsOkAndHolds(InnerMatcher inner) {
  return internal::IsOkAndHoldsMatcher<InnerMatcher>(std::move(inner));
}

}  // namespace testing
}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TESTING_STATUS_MATCHERS_H_
