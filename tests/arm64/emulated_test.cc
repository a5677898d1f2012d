// The arm64 builds of farm-agent and farm-workload: fully static, stripped aarch64
// executables whose probe gives the host build's verdicts on every device fixture,
// and whose workloads all run, under qemu-aarch64-static.
#include <elf.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/testing/run_binary.h"
#include "farm/v1/common.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::RunCommand;
using ::kvmfarm::testing::Runfile;

constexpr char kEmulator[] = "qemu-aarch64-static";

std::string ArmAgent() { return Runfile("agent/farm-agent-arm64"); }
std::string ArmWorkload() { return Runfile("guest_images/farm-workload-arm64"); }

// What the ELF headers say about a binary.
struct ElfShape {
  bool read = false;
  uint16_t machine = 0;
  bool has_interpreter = false;  // PT_INTERP: needs a dynamic loader
  bool has_dynamic = false;      // PT_DYNAMIC: shared libraries or a static PIE
  bool has_symtab = false;       // a .symtab section: not stripped
};

// The record of type T at byte `at` of `bytes`; false where the file is too short.
template <typename T>
bool ReadAt(const std::string& bytes, size_t at, T* out) {
  if (at + sizeof(T) > bytes.size()) return false;
  std::copy_n(bytes.data() + at, sizeof(T), reinterpret_cast<char*>(out));
  return true;
}

ElfShape ReadElf(const std::string& path) {
  ElfShape shape;
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Elf64_Ehdr header;
  if (!ReadAt(bytes, 0, &header) || bytes.compare(0, 4, ELFMAG) != 0 ||
      bytes[EI_CLASS] != ELFCLASS64) {
    return shape;
  }
  shape.machine = header.e_machine;
  for (int i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (!ReadAt(bytes, header.e_phoff + static_cast<size_t>(i) * header.e_phentsize, &ph)) {
      return shape;
    }
    shape.has_interpreter |= ph.p_type == PT_INTERP;
    shape.has_dynamic |= ph.p_type == PT_DYNAMIC;
  }
  for (int i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr sh;
    if (!ReadAt(bytes, header.e_shoff + static_cast<size_t>(i) * header.e_shentsize, &sh)) {
      return shape;
    }
    shape.has_symtab |= sh.sh_type == SHT_SYMTAB;
  }
  shape.read = true;
  return shape;
}

TEST(Arm64BuildTest, BinariesAreStaticStrippedAarch64) {
  for (const std::string& binary : {ArmAgent(), ArmWorkload()}) {
    SCOPED_TRACE(binary);
    const ElfShape shape = ReadElf(binary);
    ASSERT_TRUE(shape.read) << "not a 64-bit ELF";
    EXPECT_EQ(shape.machine, EM_AARCH64);
    EXPECT_FALSE(shape.has_interpreter) << "needs a program interpreter";
    EXPECT_FALSE(shape.has_dynamic) << "has a dynamic section";
    EXPECT_FALSE(shape.has_symtab) << "not stripped";
  }
  // And the host build really is another machine, so the emulator is what runs it.
  EXPECT_EQ(ReadElf(Runfile("agent/farm-agent")).machine, EM_X86_64);
}

std::vector<std::string> Fixtures() {
  std::vector<std::string> names;
  const std::string dir = Runfile("tests/fixtures/devices");
  for (const std::string& name : ListDirectory(dir)) {
    if (IsDirectory(dir + "/" + name)) names.push_back(name);
  }
  return names;
}

// The probe's JSON for a fixture, without the fields that differ run to run.
farm::v1::KvmCapability ProbeFixture(const std::vector<std::string>& agent,
                                     const std::string& fixture) {
  const ProcessResult result = RunCommand(
      agent, {"--probe", "--json", "--sysroot", Runfile("tests/fixtures/devices/" + fixture)});
  farm::v1::KvmCapability capability;
  EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_data, &capability).ok())
      << result.stdout_data;
  capability.clear_probed_at();
  capability.clear_probe_duration();
  return capability;
}

TEST(EmulatedProbeTest, EveryFixtureGetsTheHostBuildsVerdictAndEvidence) {
  const std::vector<std::string> fixtures = Fixtures();
  ASSERT_GE(fixtures.size(), 8u);
  std::string table;
  for (const std::string& fixture : fixtures) {
    SCOPED_TRACE(fixture);
    const farm::v1::KvmCapability host = ProbeFixture({Runfile("agent/farm-agent")}, fixture);
    const farm::v1::KvmCapability arm = ProbeFixture({kEmulator, ArmAgent()}, fixture);
    ASSERT_NE(host.verdict(), farm::v1::VERDICT_UNSPECIFIED);
    EXPECT_EQ(arm.verdict(), host.verdict());
    // Not only the verdict: every check, reason and piece of evidence.
    std::string differences;
    google::protobuf::util::MessageDifferencer differencer;
    differencer.ReportDifferencesToString(&differences);
    EXPECT_TRUE(differencer.Compare(host, arm)) << differences;
    absl::StrAppend(&table, fixture, "\t", farm::v1::Verdict_Name(arm.verdict()), "\t",
                    farm::v1::HypervisorKind_Name(arm.hypervisor_kind()), "\n");
  }
  // The table for the record (bazel test --test_output=all).
  std::cout << "fixture\tverdict (arm64 build, emulated)\thypervisor\n" << table;
}

TEST(EmulatedWorkloadTest, EveryWorkloadRunsAndValidates) {
  const ProcessResult listing = RunCommand({kEmulator, ArmWorkload()}, {"--list"});
  ASSERT_EQ(listing.exit_code, 0) << listing.stderr_data;
  std::set<std::string> workloads;
  for (absl::string_view line : absl::StrSplit(listing.stdout_data, '\n', absl::SkipEmpty())) {
    workloads.insert(std::string(line.substr(0, line.find(' '))));
  }
  ASSERT_GE(workloads.size(), 7u);

  // Small sizes: the emulator is slower, and this is about running, not figures.
  const char* tmp = std::getenv("TEST_TMPDIR");
  const ProcessResult result =
      RunCommand({kEmulator, ArmWorkload()},
                 {"--json", "--repetitions=1", absl::StrCat("--dir=", tmp ? tmp : "/var/tmp"),
                  "--size=crypto=4M,mem_read=16M,mem_write=16M,mem_random=16M,io=16M",
                  "--iterations=integer=1,float=200000,mem_read=1,mem_write=1,mem_random=200000"});
  ASSERT_EQ(result.exit_code, 0) << result.stderr_data << result.stdout_data;
  farm::v1::BenchmarkResult benchmark;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_data, &benchmark).ok())
      << result.stdout_data;
  EXPECT_EQ(benchmark.failures_size(), 0) << benchmark.DebugString();
  std::set<std::string> measured;
  for (const farm::v1::Measurement& m : benchmark.measurements()) {
    measured.insert(m.metric().substr(0, m.metric().find('.')));
    EXPECT_GT(m.median(), 0) << m.metric();
  }
  EXPECT_EQ(measured, workloads);
}

}  // namespace
}  // namespace kvmfarm
