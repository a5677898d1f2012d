#include "controller/dashboard/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "common/testing/status_matchers.h"

namespace kvmfarm::dashboard {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(SessionKeysTest, AnIssuedCookieOpensUntilItExpires) {
  const SessionKeys keys = SessionKeys::Random();
  const std::string cookie = keys.Issue("abc123", kNow, absl::Hours(1));
  absl::StatusOr<Session> session = keys.Open(cookie, kNow + absl::Minutes(59));
  ASSERT_THAT(session, IsOk());
  EXPECT_EQ(session->token_hash, "abc123");
  EXPECT_EQ(session->expires, kNow + absl::Hours(1));
  EXPECT_THAT(keys.Open(cookie, kNow + absl::Hours(1)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));
}

TEST(SessionKeysTest, EachSignInHasItsOwnNonce) {
  const SessionKeys keys = SessionKeys::Random();
  absl::StatusOr<Session> a = keys.Open(keys.Issue("h", kNow), kNow);
  absl::StatusOr<Session> b = keys.Open(keys.Issue("h", kNow), kNow);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->nonce, b->nonce);
}

TEST(SessionKeysTest, AForgedOrAlteredCookieIsRefused) {
  const SessionKeys keys = SessionKeys::Random();
  std::string cookie = keys.Issue("viewer-hash", kNow);
  // Another key's cookie, a changed hash, a longer expiry, garbage.
  EXPECT_THAT(SessionKeys::Random().Open(cookie, kNow),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not signed")));
  std::string altered = cookie;
  altered.replace(3, 6, "admin-");
  EXPECT_THAT(keys.Open(altered, kNow), StatusIs(absl::StatusCode::kUnauthenticated));
  std::string later = cookie;
  const size_t expiry = later.find('.', 3) + 1;
  later[expiry] = later[expiry] == '9' ? '8' : '9';
  EXPECT_THAT(keys.Open(later, kNow), StatusIs(absl::StatusCode::kUnauthenticated));
  for (const char* bad : {"", "v1", "v1.a.b.c.d", "v2.h.1.n.m", "....."}) {
    EXPECT_THAT(keys.Open(bad, kNow), StatusIs(absl::StatusCode::kUnauthenticated)) << bad;
  }
}

TEST(SessionKeysTest, CsrfTokensAreBoundToThePrincipal) {
  const SessionKeys keys = SessionKeys::Random();
  const std::string token = keys.CsrfToken("nonce-1");
  EXPECT_TRUE(keys.CsrfMatches("nonce-1", token));
  EXPECT_FALSE(keys.CsrfMatches("nonce-2", token));
  EXPECT_FALSE(keys.CsrfMatches("nonce-1", ""));
  EXPECT_FALSE(SessionKeys::Random().CsrfMatches("nonce-1", token));
}

TEST(SessionKeysTest, AKeyFileIsCreatedOwnerOnlyAndSharedByReplicas) {
  const std::string path = TempPath("created.key");
  absl::StatusOr<SessionKeys> first = SessionKeys::FromFile(path);
  ASSERT_THAT(first, IsOk());
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  // A second replica reading the same file honours the first one's cookies.
  absl::StatusOr<SessionKeys> second = SessionKeys::FromFile(path);
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(second->Open(first->Issue("h", kNow), kNow), IsOk());
}

TEST(SessionKeysTest, AShortOrOpenKeyFileIsRefused) {
  const std::string short_path = TempPath("short.key");
  std::ofstream(short_path) << "tooshort\n";
  chmod(short_path.c_str(), 0600);
  EXPECT_THAT(SessionKeys::FromFile(short_path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least 32")));
  const std::string open_path = TempPath("open.key");
  std::ofstream(open_path) << std::string(64, 'k') << "\n";
  chmod(open_path.c_str(), 0644);
  EXPECT_THAT(SessionKeys::FromFile(open_path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod")));
}

}  // namespace
}  // namespace kvmfarm::dashboard
