#include "agent/probe/kernel.h"

#include <zlib.h>

#include <string>

#include "agent/probe/probe_test_util.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Gzip(const std::string& data) {
  z_stream stream = {};
  EXPECT_EQ(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(&out[0]);
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

constexpr char kConfig[] =
    "#\n# Automatically generated file; DO NOT EDIT.\n"
    "CONFIG_VIRTUALIZATION=y\nCONFIG_KVM=y\nCONFIG_KVM_INTEL=m\n"
    "# CONFIG_KVM_AMD is not set\nCONFIG_LOCALVERSION=\"-cloud\"\n";

TEST(ParseKernelConfigTest, ReadsSetUnsetAndQuotedValues) {
  absl::StatusOr<KernelConfig> config = ParseKernelConfig(kConfig);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->at("CONFIG_KVM"), "y");
  EXPECT_EQ(config->at("CONFIG_KVM_INTEL"), "m");
  EXPECT_EQ(config->at("CONFIG_KVM_AMD"), "n");
  EXPECT_EQ(config->at("CONFIG_LOCALVERSION"), "-cloud");
  EXPECT_THAT(ParseKernelConfig("hello\nworld\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CONFIG_")));
  EXPECT_THAT(ParseKernelConfig(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GunzipTest, InflatesAndRejectsCorruptTruncatedAndHuge) {
  const std::string gz = Gzip(kConfig);
  EXPECT_THAT(Gunzip(gz), IsOkAndHolds(std::string(kConfig)));
  EXPECT_THAT(Gunzip(gz.substr(0, gz.size() / 2)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  std::string corrupt = gz;
  corrupt[0] = 'X';
  EXPECT_THAT(Gunzip(corrupt), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Gunzip(""), StatusIs(absl::StatusCode::kDataLoss));
  const std::string bomb = Gzip(std::string(4 << 20, 'A'));
  EXPECT_THAT(Gunzip(bomb, 1 << 20), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(KernelReleaseTest, FromProcVersion) {
  EXPECT_EQ(KernelReleaseFromVersion(
                "Linux version 6.1.75-android14-11-g48b922851ac5-ab11753553 "
                "(kleaf@build-host) (Android (10087095) clang version 17.0.4) #1 SMP "
                "PREEMPT Mon Apr 29 12:00:00 UTC 2024\n"),
            "6.1.75-android14-11-g48b922851ac5-ab11753553");
  EXPECT_EQ(KernelReleaseFromVersion("garbage"), "");
  EXPECT_EQ(KernelReleaseFromVersion(""), "");
}

TEST(KvmArmModeArgTest, LastOneWins) {
  EXPECT_EQ(KvmArmModeArg("console=ttyS0 kvm-arm.mode=protected quiet"), "protected");
  EXPECT_EQ(KvmArmModeArg("kvm-arm.mode=nvhe kvm-arm.mode=none\n"), "none");
  EXPECT_EQ(KvmArmModeArg("console=ttyS0"), "");
}

TEST(ReadKernelEvidenceTest, PrefersProcConfigGz) {
  ScratchRoot root;
  root.Write("/proc/config.gz", Gzip(kConfig));
  root.Write("/proc/cmdline", "console=ttyMSM0 kvm-arm.mode=protected\n");
  farm::v1::KernelEvidence evidence;
  Checks checks;
  ReadKernelEvidence(Sysroot(root.path()), "6.1.75", &evidence, &checks);
  EXPECT_EQ(evidence.config_source(), "/proc/config.gz");
  EXPECT_TRUE(evidence.config_kvm());
  EXPECT_TRUE(evidence.config_virtualization());
  EXPECT_THAT(evidence.kvm_options(), ElementsAre("CONFIG_KVM_INTEL=m"));
  EXPECT_EQ(evidence.kvm_arm_mode_arg(), "protected");
  ASSERT_EQ(checks.size(), 3);
  EXPECT_EQ(checks[0].name(), "kernel.virtualization");
  EXPECT_EQ(checks[1].name(), "kernel.kvm");
  EXPECT_EQ(checks[1].outcome(), farm::v1::OUTCOME_PASS);
  EXPECT_EQ(checks[1].detail(), "CONFIG_KVM=y");
  EXPECT_EQ(checks[2].name(), "kernel.kvm_arm_mode");
}

TEST(ReadKernelEvidenceTest, FallsBackToBootConfigAndReportsKvmMissing) {
  ScratchRoot root;
  root.Write("/proc/config.gz", "not gzip at all");
  root.Write("/boot/config-5.15.0", "CONFIG_VIRTUALIZATION=y\n# CONFIG_KVM is not set\n");
  farm::v1::KernelEvidence evidence;
  Checks checks;
  ReadKernelEvidence(Sysroot(root.path()), "5.15.0", &evidence, &checks);
  EXPECT_EQ(evidence.config_source(), "/boot/config-5.15.0");
  ASSERT_TRUE(evidence.has_config_kvm());
  EXPECT_FALSE(evidence.config_kvm());
  const farm::v1::Check* kvm = FindCheck(checks, "kernel.kvm");
  ASSERT_NE(kvm, nullptr);
  EXPECT_EQ(kvm->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_EQ(kvm->detail(), "CONFIG_KVM is not set");
}

TEST(ReadKernelEvidenceTest, NoConfigIsUnknownNeverNo) {
  ScratchRoot root;
  farm::v1::KernelEvidence evidence;
  Checks checks;
  ReadKernelEvidence(Sysroot(root.path()), "6.1.0", &evidence, &checks);
  EXPECT_FALSE(evidence.has_config_kvm());
  EXPECT_FALSE(evidence.has_config_virtualization());
  ASSERT_EQ(checks.size(), 1);
  EXPECT_EQ(checks[0].name(), "kernel.config");
  EXPECT_EQ(checks[0].outcome(), farm::v1::OUTCOME_SKIP);
  EXPECT_THAT(checks[0].detail(), HasSubstr("CONFIG_KVM unknown"));
}

}  // namespace
}  // namespace kvmfarm::probe
