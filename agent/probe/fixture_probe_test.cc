// The probe's result for every fixture device is a golden test: identity, every
// check's outcome, the hypervisor kind and the verdict. The goldens live in
// tests/fixtures/golden/<device>.txt; after a deliberate change, regenerate them
// and review the diff:
//   KVMFARM_UPDATE_GOLDEN=1 bazel run //agent/probe:fixture_probe_test
#include <dirent.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/probe/capability_text.h"
#include "agent/probe/hypervisor.h"
#include "agent/probe/probe.h"
#include "agent/probe/probe_test_util.h"
#include "common/proto_enum.h"
#include "common/testing/status_matchers.h"
#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe {
namespace {

using ::kvmfarm::probe::testing::ScratchRoot;
using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;

// Where tests/fixtures is: the workspace when regenerating, runfiles otherwise.
std::string FixturesRoot() {
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (workspace != nullptr && std::getenv("KVMFARM_UPDATE_GOLDEN") != nullptr) {
    return absl::StrCat(workspace, "/tests/fixtures");
  }
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/kvmfarm/tests/fixtures");
}

std::vector<std::string> FixtureNames() {
  std::vector<std::string> names;
  const std::string dir = FixturesRoot() + "/devices";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* entry = readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != ".." && name.find('.') == std::string::npos) {
        names.push_back(name);
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The stable part of a probe result: no timings, no absolute paths.
std::string Summarize(const farm::v1::KvmCapability& c) {
  const farm::v1::DeviceIdentity& d = c.device();
  std::vector<std::string> cores;
  for (const farm::v1::CpuCoreGroup& g : d.core_groups()) {
    cores.push_back(absl::StrCat(g.count(), "x ", g.part_name()));
  }
  std::string out =
      absl::StrCat("device_id: ", d.device_id(), "\nmanufacturer: ", d.manufacturer(),
                   "\nmodel: ", d.model(), "\nsoc: ", d.soc_vendor(), " / ", d.soc_model(), " / ",
                   d.soc_marketing_name(), "\ncpu: ", d.cpu_arch_name(), ", ", d.cpu_cores(),
                   " cores: ", absl::StrJoin(cores, ", "), "\nkernel: ", d.kernel_release(),
                   "\nandroid: ", d.android_release(), "\nabi: ", d.abi(), "\nchecks:\n");
  for (const farm::v1::Check& check : c.checks()) {
    absl::StrAppend(&out, "  ", EnumValueName(check.outcome()), " ", check.name(), "\n");
  }
  absl::StrAppend(&out, "hypervisor: ", HypervisorKindName(c.hypervisor_kind()),
                  "\nverdict: ", EnumValueName(c.verdict()), "\n");
  return out;
}

absl::StatusOr<farm::v1::KvmCapability> ProbeFixture(const std::string& name) {
  ProbeOptions options;
  options.sysroot = absl::StrCat(FixturesRoot(), "/devices/", name);
  return RunProbe(options);
}

TEST(FixtureProbeTest, EveryFixtureMatchesItsGolden) {
  const std::vector<std::string> names = FixtureNames();
  ASSERT_GE(names.size(), 8u) << "fixtures not found under " << FixturesRoot();
  const bool update = std::getenv("KVMFARM_UPDATE_GOLDEN") != nullptr &&
                      std::getenv("BUILD_WORKSPACE_DIRECTORY") != nullptr;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    absl::StatusOr<farm::v1::KvmCapability> capability = ProbeFixture(name);
    ASSERT_THAT(capability, IsOk());
    const std::string summary = Summarize(*capability);
    const std::string golden_path = absl::StrCat(FixturesRoot(), "/golden/", name, ".txt");
    if (update) {
      std::ofstream(golden_path) << summary;
      continue;
    }
    std::ifstream in(golden_path);
    ASSERT_TRUE(in.good()) << "missing " << golden_path
                           << " (KVMFARM_UPDATE_GOLDEN=1 bazel run "
                              "//agent/probe:fixture_probe_test)";
    std::stringstream golden;
    golden << in.rdbuf();
    EXPECT_EQ(summary, golden.str());
  }
}

// The verdict table, written out independently of the golden files.
TEST(FixtureProbeTest, VerdictsFollowTheDesignTable) {
  struct Expected {
    farm::v1::Verdict verdict;
    farm::v1::HypervisorKind kind;
    const char* soc;
  };
  const std::map<std::string, Expected> expected = {
      {"pixel8-kvm",
       {farm::v1::VERDICT_KVM_BOOT_UNTESTED, farm::v1::HYPERVISOR_KIND_PKVM, "Tensor G3"}},
      {"pixel8-stock",
       {farm::v1::VERDICT_KVM_NO_ACCESS, farm::v1::HYPERVISOR_KIND_PKVM, "Tensor G3"}},
      {"sd8gen3-custom",
       {farm::v1::VERDICT_KVM_BOOT_UNTESTED, farm::v1::HYPERVISOR_KIND_KVM, "Snapdragon 8 Gen 3"}},
      {"sd8gen3-stock",
       {farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY, farm::v1::HYPERVISOR_KIND_GUNYAH,
        "Snapdragon 8 Gen 3"}},
      {"oneplus12-custom",
       {farm::v1::VERDICT_KVM_BOOT_UNTESTED, farm::v1::HYPERVISOR_KIND_KVM, "Snapdragon 8 Gen 3"}},
      {"sd835",
       {farm::v1::VERDICT_NO_HYPERVISOR_MODE, farm::v1::HYPERVISOR_KIND_NONE, "Snapdragon 835"}},
      {"mtk-d9300-stock",
       {farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY, farm::v1::HYPERVISOR_KIND_GENIEZONE,
        "Dimensity 9300"}},
      {"x86-server-vtx", {farm::v1::VERDICT_KVM_BOOT_UNTESTED, farm::v1::HYPERVISOR_KIND_KVM, ""}},
      {"garbled-phone", {farm::v1::VERDICT_UNKNOWN, farm::v1::HYPERVISOR_KIND_KVM, ""}},
      {"pixel9-stock",
       {farm::v1::VERDICT_KVM_NO_ACCESS, farm::v1::HYPERVISOR_KIND_PKVM, "Tensor G4"}},
      {"sd8elite-stock",
       {farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY, farm::v1::HYPERVISOR_KIND_GUNYAH,
        "Snapdragon 8 Elite"}},
      {"x86-pvm-guest", {farm::v1::VERDICT_NO_HYPERVISOR_MODE, farm::v1::HYPERVISOR_KIND_PVM, ""}},
  };
  for (const auto& [name, want] : expected) {
    SCOPED_TRACE(name);
    absl::StatusOr<farm::v1::KvmCapability> c = ProbeFixture(name);
    ASSERT_THAT(c, IsOk());
    EXPECT_EQ(c->verdict(), want.verdict) << FormatCapabilityText(*c);
    EXPECT_EQ(c->hypervisor_kind(), want.kind);
    EXPECT_EQ(c->device().soc_marketing_name(), want.soc);
    EXPECT_TRUE(c->device().is_fixture());
    EXPECT_FALSE(c->verdict_reasons().empty());
    EXPECT_FALSE(c->recommendation().empty());
    // A fixture probe touches nothing of the host: no user, no QEMU of this machine.
    EXPECT_FALSE(c->has_agent_user());
    EXPECT_EQ(c->qemu_size(), 0);
  }
}

absl::StatusOr<farm::v1::KvmCapability> ProbeTree(const ScratchRoot& tree) {
  ProbeOptions options;
  options.sysroot = tree.path();
  return RunProbe(options);
}

// Bytes that are not UTF-8 in a device's files made the capability unparseable
// (the controller refused the registration) and a truncated sequence could take
// the next letter with it.
TEST(FixtureProbeTest, BadBytesFromTheDeviceShowAsReplacementCharacters) {
  ScratchRoot tree(absl::StrCat(FixturesRoot(), "/devices/sd8gen3-custom"));
  tree.Write("/sys/devices/soc0/family", std::string("Snap\xe0\x9a\x9d") + "dragon \xc3" + "a\n");
  tree.Write("/getprop.txt", "[ro.product.model]: [Snapdragon\xff MTP]\n");
  absl::StatusOr<farm::v1::KvmCapability> capability = ProbeTree(tree);
  ASSERT_THAT(capability, IsOk());
  const std::string fffd(kUtf8Replacement);
  EXPECT_EQ(capability->device().soc_family(),
            "Snap" + fffd + fffd + fffd + "dragon " + fffd + "a");
  EXPECT_EQ(capability->device().model(), "Snapdragon" + fffd + " MTP");

  std::string wire;
  ASSERT_TRUE(capability->SerializeToString(&wire));
  farm::v1::KvmCapability parsed;
  EXPECT_TRUE(parsed.ParseFromString(wire));  // proto3 parsing checks UTF-8
  EXPECT_EQ(parsed.device().soc_family(), capability->device().soc_family());
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*capability, &json).ok());
  EXPECT_EQ(ValidUtf8(json), json);
}

// A recorded /dev/kvm (kvm_probe.textproto) that the tree does not have is a
// mistake in the fixture, not a device with KVM.
TEST(FixtureProbeTest, ARecordedKvmMissingFromTheTreeIsAnInconsistentFixture) {
  ScratchRoot tree(absl::StrCat(FixturesRoot(), "/devices/pixel8-kvm"));
  tree.Remove("/dev/kvm");
  absl::StatusOr<farm::v1::KvmCapability> capability = ProbeTree(tree);
  ASSERT_THAT(capability, IsOk());
  const farm::v1::Check* recorded = FindCheck(capability->checks(), "kvm.recorded");
  ASSERT_NE(recorded, nullptr) << FormatCapabilityText(*capability);
  EXPECT_EQ(recorded->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(recorded->detail(), HasSubstr("kvm_probe.textproto"));
  EXPECT_THAT(recorded->detail(), HasSubstr("inconsistent"));
  const farm::v1::Check* node = FindCheck(capability->checks(), "kvm.node");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->outcome(), farm::v1::OUTCOME_FAIL) << node->detail();
  EXPECT_NE(capability->verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
}

// One bad source never stops the probe: each is a check that names it, and the
// verdict comes from what remains (garbled-phone: /dev/kvm is there but what it
// answered is not, so UNKNOWN, never READY).
TEST(FixtureProbeTest, EveryBadSourceOfTheGarbledFixtureIsNamed) {
  absl::StatusOr<farm::v1::KvmCapability> c = ProbeFixture("garbled-phone");
  ASSERT_THAT(c, IsOk());
  const std::string text = FormatCapabilityText(*c);
  struct Expected {
    const char* check;
    farm::v1::Outcome outcome;
    const char* says;
  };
  for (const Expected& want : std::vector<Expected>{
           {"android.properties", farm::v1::OUTCOME_FAIL, "not getprop output"},
           {"identity.cpu", farm::v1::OUTCOME_FAIL, "is it really cpuinfo"},
           {"kernel.config", farm::v1::OUTCOME_SKIP, "gzip data is truncated"},
           {"kvm.recorded", farm::v1::OUTCOME_WARN, "Invalid value for boolean field"},
       }) {
    const farm::v1::Check* check = FindCheck(c->checks(), want.check);
    ASSERT_NE(check, nullptr) << want.check << "\n" << text;
    EXPECT_EQ(check->outcome(), want.outcome) << text;
    EXPECT_THAT(check->detail(), HasSubstr(want.says));
  }
  std::vector<std::string> unreadable;
  for (const farm::v1::Check& check : c->checks()) {
    if (check.name() == "source.unreadable") unreadable.push_back(check.source());
  }
  EXPECT_THAT(unreadable, ::testing::UnorderedElementsAre("/proc/version", "/proc/cmdline"));
  EXPECT_EQ(c->verdict(), farm::v1::VERDICT_UNKNOWN) << text;
}

// What the fixture cannot hold (git and Bazel): a FIFO (reading it must not wait
// for a writer), a file far past its cap (200 MB, sparse), a symlink loop.
TEST(FixtureProbeTest, SourcesThatAreNotFilesOrAreHugeAreNamedAndBounded) {
  ScratchRoot tree(absl::StrCat(FixturesRoot(), "/devices/sd8gen3-custom"));
  tree.Remove("/dmesg.txt");
  ASSERT_EQ(::mkfifo((tree.path() + "/dmesg.txt").c_str(), 0600), 0);
  ASSERT_EQ(::truncate((tree.path() + "/proc/cpuinfo").c_str(), 200 << 20), 0);
  tree.Remove("/sys/devices/soc0/machine");
  ASSERT_EQ(::symlink("machine", (tree.path() + "/sys/devices/soc0/machine").c_str()), 0);
  absl::StatusOr<farm::v1::KvmCapability> c = ProbeTree(tree);
  ASSERT_THAT(c, IsOk());
  const std::string text = FormatCapabilityText(*c);
  const farm::v1::Check* cpu = FindCheck(c->checks(), "identity.cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->outcome(), farm::v1::OUTCOME_FAIL);
  EXPECT_THAT(cpu->detail(), HasSubstr("larger than"));
  bool machine_named = false;
  for (const farm::v1::Check& check : c->checks()) {
    if (check.name() == "source.unreadable" && check.source() == "/sys/devices/soc0/machine") {
      machine_named = true;
    }
  }
  EXPECT_TRUE(machine_named) << text;
  EXPECT_NE(c->verdict(), farm::v1::VERDICT_KVM_READY);
}

// Android's own word is evidence with its own line; a Gunyah phone that runs
// protected VMs only keeps VENDOR_HYPERVISOR_ONLY and says so.
TEST(FixtureProbeTest, AvfSaysWhatTheDeviceSupports) {
  absl::StatusOr<farm::v1::KvmCapability> pixel9 = ProbeFixture("pixel9-stock");
  ASSERT_THAT(pixel9, IsOk());
  EXPECT_TRUE(pixel9->avf().vm_supported());
  EXPECT_TRUE(pixel9->avf().protected_vm_supported());
  EXPECT_TRUE(pixel9->avf().apex_present());
  const farm::v1::Check* avf = FindCheck(pixel9->checks(), "android.avf");
  ASSERT_NE(avf, nullptr);
  EXPECT_EQ(avf->outcome(), farm::v1::OUTCOME_PASS);

  absl::StatusOr<farm::v1::KvmCapability> elite = ProbeFixture("sd8elite-stock");
  ASSERT_THAT(elite, IsOk());
  EXPECT_FALSE(elite->avf().has_vm_supported());
  EXPECT_TRUE(elite->avf().protected_vm_supported());
  avf = FindCheck(elite->checks(), "android.avf");
  ASSERT_NE(avf, nullptr);
  EXPECT_EQ(avf->outcome(), farm::v1::OUTCOME_WARN);
  EXPECT_THAT(avf->detail(), HasSubstr("protected VMs only"));
  EXPECT_THAT(elite->verdict_reasons(), ::testing::Contains(HasSubstr("protected VMs only")));

  // A device with no AVF word has no line.
  absl::StatusOr<farm::v1::KvmCapability> old = ProbeFixture("sd835");
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(FindCheck(old->checks(), "android.avf"), nullptr);
}

TEST(FixtureProbeTest, BadSysrootIsAClearError) {
  ProbeOptions options;
  options.sysroot = "/nonexistent/fixture";
  EXPECT_THAT(RunProbe(options), ::kvmfarm::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                                              ::testing::HasSubstr("--sysroot")));
}

}  // namespace
}  // namespace kvmfarm::probe
