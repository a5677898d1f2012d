#include "controller/scheduler/agent_error.h"

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace kvmfarm::scheduler {
namespace {

TEST(AgentErrorTest, RefusalsAreMarkedAndKeepCodeAndMessage) {
  for (const absl::Status& refusal :
       {absl::InvalidArgumentError("repetitions: at most 1000"),
        absl::FailedPreconditionError("this agent reads a fixture tree"),
        absl::UnimplementedError("no boot on this agent"), absl::NotFoundError("no workload")}) {
    const absl::Status classified = ClassifyAgentStatus(refusal);
    EXPECT_TRUE(IsAgentRefusal(classified)) << refusal;
    EXPECT_EQ(classified.code(), refusal.code());
    EXPECT_EQ(classified.message(), refusal.message());
  }
}

TEST(AgentErrorTest, InfrastructureFailuresAreTransient) {
  for (const absl::Status& failure :
       {absl::UnavailableError("connection refused"), absl::ResourceExhaustedError("busy"),
        absl::DeadlineExceededError("deadline"), absl::InternalError("crash"),
        absl::CancelledError("cancelled")}) {
    EXPECT_FALSE(IsAgentRefusal(ClassifyAgentStatus(failure))) << failure;
  }
  EXPECT_TRUE(ClassifyAgentStatus(absl::OkStatus()).ok());
  EXPECT_FALSE(IsAgentRefusal(absl::OkStatus()));
  EXPECT_TRUE(AgentRefusal(absl::OkStatus()).ok());
}

TEST(AgentErrorTest, TheMarkTravelsThroughAStatusOr) {
  absl::StatusOr<int> result = AgentRefusal(absl::UnavailableError("refused by policy"));
  EXPECT_TRUE(IsAgentRefusal(result.status()));
  absl::StatusOr<int> copy = result;
  EXPECT_TRUE(IsAgentRefusal(copy.status()));
}

}  // namespace
}  // namespace kvmfarm::scheduler
