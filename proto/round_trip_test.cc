// The farm.v1 messages survive the binary wire format and protobuf's JSON mapping,
// and "not measured" stays distinguishable from zero in both.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <string>

#include "common/testing/status_matchers.h"
#include "farm/v1/agent.pb.h"
#include "farm/v1/common.pb.h"
#include "farm/v1/controller.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::Not;

farm::v1::KvmCapability SampleCapability() {
  farm::v1::KvmCapability capability;
  farm::v1::DeviceIdentity* device = capability.mutable_device();
  device->set_device_id("pixel8-a");
  device->set_manufacturer("Google");
  device->set_model("Pixel 8");
  device->set_soc_vendor("google");
  device->set_soc_model("zuma");
  device->set_soc_marketing_name("Tensor G3");
  device->set_cpu_arch(farm::v1::CPU_ARCH_ARM64);
  device->set_cpu_cores(9);
  farm::v1::CpuCoreGroup* big = device->add_core_groups();
  big->set_part_name("Cortex-X3");
  big->set_count(1);
  big->set_part_id("0xd4e");
  big->set_max_frequency_khz(2910000);
  farm::v1::Check* check = capability.add_checks();
  check->set_name("kvm.open");
  check->set_outcome(farm::v1::OUTCOME_FAIL);
  check->set_detail("open(/dev/kvm): Permission denied (errno 13)");
  capability.set_verdict(farm::v1::VERDICT_KVM_NO_ACCESS);
  capability.add_verdict_reasons("/dev/kvm is owned by system:system mode 0660");
  capability.set_hypervisor_kind(farm::v1::HYPERVISOR_KIND_PKVM);
  capability.mutable_kvm_node()->set_present(true);
  capability.mutable_kvm_node()->set_mode(0660);
  capability.mutable_kvm_node()->set_open_errno(13);
  capability.mutable_kernel()->set_config_kvm(true);
  capability.mutable_boot_mode()->set_exception_level(farm::v1::EXCEPTION_LEVEL_EL2);
  capability.mutable_boot_mode()->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_PROTECTED);
  capability.mutable_probe_duration()->set_nanos(120000000);
  return capability;
}

farm::v1::BenchmarkResult SampleBenchmark() {
  farm::v1::BenchmarkResult result;
  result.set_attempt_id("sweep-1/task-3/attempt-2");
  result.set_mode(farm::v1::MODE_TCG);
  farm::v1::Measurement* m = result.add_measurements();
  m->set_metric("crypto.sha256");
  m->set_unit("MB/s");
  m->set_higher_is_better(true);
  m->set_mode(farm::v1::MODE_TCG);
  (*m->mutable_parameters())["size_bytes"] = "16384";
  m->add_values(35.5);
  m->add_values(36.25);
  m->add_values(34.0);
  m->set_median(35.5);
  m->set_min(34.0);
  m->set_max(36.25);
  m->set_percent_of_native(7.5);
  result.set_succeeded(true);
  farm::v1::WorkloadFailure* failure = result.add_failures();
  failure->set_workload("io");
  failure->set_reason("no virtio disk in the guest");
  return result;
}

template <typename Message>
void ExpectBinaryRoundTrip(const Message& original) {
  std::string wire;
  ASSERT_TRUE(original.SerializeToString(&wire));
  Message parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_TRUE(MessageDifferencer::Equals(original, parsed))
      << "before: " << original.DebugString() << "\nafter: " << parsed.DebugString();
}

template <typename Message>
std::string ExpectJsonRoundTrip(const Message& original) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(original, &json).ok());
  Message parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  EXPECT_TRUE(MessageDifferencer::Equals(original, parsed))
      << "json: " << json << "\nafter: " << parsed.DebugString();
  return json;
}

TEST(RoundTripTest, CapabilityBinaryAndJson) {
  const farm::v1::KvmCapability capability = SampleCapability();
  ExpectBinaryRoundTrip(capability);
  const std::string json = ExpectJsonRoundTrip(capability);
  // Enums travel by name, durations as strings: readable for operators.
  EXPECT_THAT(json, HasSubstr("\"verdict\":\"VERDICT_KVM_NO_ACCESS\""));
  EXPECT_THAT(json, HasSubstr("\"probeDuration\":\"0.120s\""));
}

TEST(RoundTripTest, BenchmarkResultBinaryAndJson) {
  const farm::v1::BenchmarkResult result = SampleBenchmark();
  ExpectBinaryRoundTrip(result);
  const std::string json = ExpectJsonRoundTrip(result);
  EXPECT_THAT(json, HasSubstr("\"metric\":\"crypto.sha256\""));
}

TEST(RoundTripTest, StreamedResponsesCarryOneEventAndTheAttemptId) {
  farm::v1::RunBenchmarkResponse progress;
  progress.set_attempt_id("a1");
  progress.mutable_progress()->set_workload("crypto");
  progress.mutable_progress()->set_repetition(2);
  progress.mutable_progress()->set_repetitions(5);
  ExpectBinaryRoundTrip(progress);
  ExpectJsonRoundTrip(progress);
  farm::v1::RunBenchmarkResponse result = progress;
  *result.mutable_result() = SampleBenchmark();
  EXPECT_EQ(result.event_case(), farm::v1::RunBenchmarkResponse::kResult);
  EXPECT_FALSE(result.has_progress());  // oneof: the result replaced the progress
  ExpectBinaryRoundTrip(result);
}

TEST(RoundTripTest, SweepWithTaskResultsRoundTrips) {
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("s-1");
  sweep.set_state(farm::v1::SWEEP_STATE_RUNNING);
  farm::v1::LabelMatch* match = sweep.mutable_spec()->mutable_selector()->add_match();
  match->set_key("soc_vendor");
  match->add_values("qualcomm");
  sweep.mutable_spec()->mutable_plan()->set_capability(true);
  sweep.mutable_spec()->mutable_plan()->add_workload_modes(farm::v1::MODE_KVM);
  farm::v1::Task* task = sweep.add_tasks();
  task->set_task_id("s-1/t-1");
  task->set_state(farm::v1::TASK_STATE_SUCCEEDED);
  *task->mutable_capability() = SampleCapability();
  ExpectBinaryRoundTrip(sweep);
  ExpectJsonRoundTrip(sweep);
}

TEST(RoundTripTest, NotMeasuredStaysAbsentAndZeroStaysZero) {
  farm::v1::Measurement unmeasured;
  unmeasured.set_metric("io.read");
  farm::v1::Measurement zero = unmeasured;
  zero.set_median(0.0);

  std::string wire;
  ASSERT_TRUE(unmeasured.SerializeToString(&wire));
  farm::v1::Measurement parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_FALSE(parsed.has_median());
  ASSERT_TRUE(zero.SerializeToString(&wire));
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_TRUE(parsed.has_median());
  EXPECT_EQ(parsed.median(), 0.0);

  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(unmeasured, &json).ok());
  EXPECT_THAT(json, Not(HasSubstr("median")));
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(zero, &json).ok());
  EXPECT_THAT(json, HasSubstr("\"median\":0"));
}

TEST(RoundTripTest, UnsetEnumsReadAsUnspecifiedNeverAsAVerdict) {
  farm::v1::KvmCapability empty;
  EXPECT_EQ(empty.verdict(), farm::v1::VERDICT_UNSPECIFIED);
  farm::v1::Check check;
  EXPECT_EQ(check.outcome(), farm::v1::OUTCOME_UNSPECIFIED);
  farm::v1::DeviceState state;
  EXPECT_EQ(state.health(), farm::v1::HEALTH_STATE_UNSPECIFIED);
}

TEST(RoundTripTest, JsonWithAnUnknownFieldIsRejectedUnlessAskedToIgnore) {
  farm::v1::GetCapabilityRequest request;
  const std::string json = R"({"refresh": true, "no_such_field": 1})";
  EXPECT_FALSE(google::protobuf::util::JsonStringToMessage(json, &request).ok());
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &request, lenient).ok());
  EXPECT_TRUE(request.refresh());
}

}  // namespace
}  // namespace kvmfarm
