#include "common/ip_address.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SplitHostPortTest, SplitsV4AndV6) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:7420", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7420);
  ASSERT_TRUE(SplitHostPort("[::1]:0", &host, &port));
  EXPECT_EQ(host, "[::1]");
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(SplitHostPort("localhost", &host, &port));
  EXPECT_FALSE(SplitHostPort(":7420", &host, &port));
  EXPECT_FALSE(SplitHostPort("127.0.0.1:65536", &host, &port));
  EXPECT_FALSE(SplitHostPort("127.0.0.1:http", &host, &port));
}

TEST(IsLoopbackAddressTest, LoopbackLiteralsAndLocalhostOnly) {
  for (const char* loopback : {"127.0.0.1:7420", "127.1.2.3:0", "[::1]:80", "localhost:7480"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
  // A name that starts like loopback is whatever DNS says it is.
  for (const char* other :
       {"127.evil.example:80", "10.0.0.1:7420", "[::2]:80", "localhost", "0.0.0.0:7420"}) {
    EXPECT_FALSE(IsLoopbackAddress(other)) << other;
  }
}

TEST(CheckIpEndpointTest, IpLiteralsOnly) {
  EXPECT_THAT(CheckIpEndpoint("--listen", "0.0.0.0:7420"), IsOk());
  EXPECT_THAT(CheckIpEndpoint("--listen", "[::]:7420"), IsOk());
  EXPECT_THAT(CheckIpEndpoint("--controller", "lab-ctl:7421"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--controller 'lab-ctl:7421': give an IP address")));
  EXPECT_THAT(CheckIpEndpoint("--advertise", "localhost:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a host name")));
  EXPECT_THAT(CheckIpEndpoint("--listen", "nonsense"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not host:port")));
  EXPECT_THAT(CheckIpEndpoint("--listen", "[nothex]:1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
TEST(CheckDialAddressTest, HostAndPortOnlyNoSchemes) {
  for (const char* good : {"10.0.0.7:7420", "[::1]:7420", "phone-3.lab.example:7420"}) {
    EXPECT_TRUE(CheckDialAddress("agent_address", good).ok()) << good;
  }
  for (const char* bad :
       {"unix:/run/evil.sock", "unix:///run/evil.sock", "dns:///evil:80", "10.0.0.7", "10.0.0.7:0",
        "10.0.0.7:99999", "host name:1", "evil/path:80", ":7420", "-x:1"}) {
    EXPECT_THAT(CheckDialAddress("agent_address", bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agent_address")))
        << bad;
  }
}

}  // namespace kvmfarm
