#include "controller/auth/access_file.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::auth {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(AccessFileTest, TokenHashIsSha256InHex) {
  // sha256("abc"), FIPS 180-2 appendix B.1.
  EXPECT_EQ(TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AccessFileTest, GrantsTokensByHashAndCertificatesByName) {
  const std::string text =
      "# the lab's grants\n\ntoken ci viewer sha256:" + TokenHash("s3cret") +
      "\n  certificate alice admin  # the lab's admin\ntoken bob operator sha256:" +
      TokenHash("other") + "\n";
  absl::StatusOr<AccessGrants> grants = ParseAccessFile(text, "access");
  ASSERT_THAT(grants, IsOk());
  const Grant* ci = grants->ForTokenHash(TokenHash("s3cret"));
  ASSERT_NE(ci, nullptr);
  EXPECT_EQ(ci->name, "ci");
  EXPECT_EQ(ci->role, Role::kViewer);
  ASSERT_NE(grants->ForTokenHash(TokenHash("other")), nullptr);
  EXPECT_EQ(grants->ForTokenHash(TokenHash("other"))->role, Role::kOperator);
  EXPECT_EQ(grants->ForTokenHash(TokenHash("guess")), nullptr);
  ASSERT_NE(grants->ForCertificate("alice"), nullptr);
  EXPECT_EQ(grants->ForCertificate("alice")->role, Role::kAdmin);
  EXPECT_EQ(grants->ForCertificate("ci"), nullptr);  // a token's name is not a certificate
}

TEST(AccessFileTest, ABadLineIsRefusedNamingItsNumber) {
  const std::string hash = "sha256:" + TokenHash("t");
  const std::pair<std::string, std::string> cases[] = {
      {"user alice admin", "access:1: a grant is"},
      {"certificate alice root", "role 'root'"},
      {"certificate alice", "want: certificate NAME ROLE"},
      {"token ci viewer", "want: token NAME ROLE"},
      {"token ci viewer md5:abc", "sha256:"},
      {"token ci viewer sha256:" + TokenHash("t").substr(1), "64 lower-case hex"},
      {"token ci viewer s3cret-in-clear", "sha256:"},
      {"certificate ../x viewer", "NAME"},
      {"certificate a viewer\ncertificate a admin", "access:2: certificate a is granted twice"},
      {"token a viewer " + hash + "\ntoken b admin " + hash, "the same token"},
  };
  for (const auto& [text, message] : cases) {
    EXPECT_THAT(ParseAccessFile(text, "access"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << text;
  }
}

TEST(AccessFileTest, RolesRoundTrip) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("agent"), std::nullopt);
}

}  // namespace
}  // namespace kvmfarm::auth
