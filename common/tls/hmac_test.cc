#include "common/tls/hmac.h"

#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

// RFC 4231, test case 2.
TEST(HmacTest, MatchesTheRfc4231Vectors) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace kvmfarm
