#include "agent/probe/kvm_device.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "common/text_proto.h"
#include "common/utf8.h"

namespace kvmfarm::probe {
namespace {

struct Capability {
  const char* name;
  int id;
};

// Capabilities worth recording everywhere, then per architecture. Numbers are
// those of linux/kvm.h, spelled out so one build reports both architectures' names.
constexpr Capability kCommonCaps[] = {
    {"KVM_CAP_USER_MEMORY", 3}, {"KVM_CAP_NR_VCPUS", 9},         {"KVM_CAP_NR_MEMSLOTS", 10},
    {"KVM_CAP_MAX_VCPUS", 66},  {"KVM_CAP_IMMEDIATE_EXIT", 136},
};
constexpr Capability kArm64Caps[] = {
    {"KVM_CAP_ARM_EL1_32BIT", 93},
    {"KVM_CAP_ARM_PMU_V3", 126},
    {"KVM_CAP_ARM_VM_IPA_SIZE", 165},
    {"KVM_CAP_ARM_SVE", 170},
};
constexpr Capability kX86Caps[] = {
    {"KVM_CAP_IRQCHIP", 0},
    {"KVM_CAP_EXT_CPUID", 7},
};

std::string UserName(uid_t uid) {
  struct passwd pw, *result = nullptr;
  char buffer[1024];
  if (getpwuid_r(uid, &pw, buffer, sizeof(buffer), &result) == 0 && result) {
    return ValidUtf8(pw.pw_name);
  }
  return std::to_string(uid);
}

std::string GroupName(gid_t gid) {
  struct group gr, *result = nullptr;
  char buffer[1024];
  if (getgrgid_r(gid, &gr, buffer, sizeof(buffer), &result) == 0 && result) {
    return ValidUtf8(gr.gr_name);
  }
  return std::to_string(gid);
}

// What the forked smoke-test child reports through its pipe: plain data, since
// the child of a multi-threaded process must not allocate.
struct SmokeReport {
  int step;         // which step failed (index into kSmokeSteps), -1 = none
  int err;          // errno of the failing step
  int exit_reason;  // last KVM exit reason
  uint64_t detail_a;
  uint64_t detail_b;
  int passed;
};

const char* const kSmokeSteps[] = {
    "KVM_CREATE_VM",
    "mmap guest memory",
    "KVM_SET_USER_MEMORY_REGION",
    "KVM_CREATE_VCPU",
    "KVM_GET_VCPU_MMAP_SIZE",
    "mmap kvm_run",
    "set vCPU registers",
    "KVM_RUN",
    "unexpected exit",
    "KVM_ARM_PREFERRED_TARGET",
    "KVM_ARM_VCPU_INIT",
};
enum SmokeStep {
  kCreateVm,
  kMapMemory,
  kSetMemory,
  kCreateVcpu,
  kMmapSize,
  kMapRun,
  kSetRegs,
  kRun,
  kUnexpectedExit,
  kPreferredTarget,
  kVcpuInit,
};

#if defined(__x86_64__) || defined(__i386__)
// Real mode at 0x1000: mov al, 0x42 ; out 0x10, al ; hlt
constexpr uint8_t kGuestCode[] = {0xb0, 0x42, 0xe6, 0x10, 0xf4};
constexpr uint64_t kGuestAddress = 0x1000;
constexpr uint16_t kExpectedPort = 0x10;
#elif defined(__aarch64__)
// At 0x10000: str w1, [x0] (x0 = an address outside every memslot, so the store
// exits to user space as MMIO) ; b .
constexpr uint32_t kGuestCode[] = {0xb9000001, 0x14000000};
constexpr uint64_t kGuestAddress = 0x10000;
constexpr uint64_t kMmioAddress = 0x20000;
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
// The smoke test's VM: one page of guest code, one vCPU and its kvm_run page.
struct SmokeVm {
  int vm = -1;
  int vcpu = -1;
  struct kvm_run* run = nullptr;
};

// Creates the VM with kGuestCode at kGuestAddress. Returns the step that failed, or
// -1 (errno says why).
int CreateSmokeVm(int kvm_fd, SmokeVm* smoke) {
  smoke->vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
  if (smoke->vm < 0) return kCreateVm;
  void* memory = mmap(nullptr, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return kMapMemory;
  memcpy(memory, kGuestCode, sizeof(kGuestCode));
  struct kvm_userspace_memory_region region = {};
  region.slot = 0;
  region.guest_phys_addr = kGuestAddress;
  region.memory_size = 0x1000;
  region.userspace_addr = reinterpret_cast<uint64_t>(memory);
  if (ioctl(smoke->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return kSetMemory;
  smoke->vcpu = ioctl(smoke->vm, KVM_CREATE_VCPU, 0);
  if (smoke->vcpu < 0) return kCreateVcpu;
  const int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return kMmapSize;
  void* run = mmap(nullptr, static_cast<size_t>(run_size), PROT_READ | PROT_WRITE, MAP_SHARED,
                   smoke->vcpu, 0);
  if (run == MAP_FAILED) return kMapRun;
  smoke->run = static_cast<struct kvm_run*>(run);
  return -1;
}
#endif

#if defined(__x86_64__) || defined(__i386__)
// Real mode from kGuestAddress: expects KVM_EXIT_IO (out 0x42 to kExpectedPort),
// then KVM_EXIT_HLT. Returns the step that failed, or -1 with report->passed set.
int RunSmokeGuest(const SmokeVm& smoke, SmokeReport* report) {
  struct kvm_sregs sregs;
  if (ioctl(smoke.vcpu, KVM_GET_SREGS, &sregs) < 0) return kSetRegs;
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(smoke.vcpu, KVM_SET_SREGS, &sregs) < 0) return kSetRegs;
  struct kvm_regs regs = {};
  regs.rip = kGuestAddress;
  regs.rflags = 0x2;
  if (ioctl(smoke.vcpu, KVM_SET_REGS, &regs) < 0) return kSetRegs;
  const struct kvm_run* run = smoke.run;
  bool saw_io = false;
  for (int exits = 0; exits < 16; ++exits) {
    if (ioctl(smoke.vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR) continue;
      return kRun;
    }
    report->exit_reason = static_cast<int>(run->exit_reason);
    if (run->exit_reason == KVM_EXIT_IO) {
      const uint8_t* data = reinterpret_cast<const uint8_t*>(run) + run->io.data_offset;
      report->detail_a = run->io.port;
      report->detail_b = *data;
      if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != kExpectedPort || *data != 0x42) {
        return kUnexpectedExit;
      }
      saw_io = true;
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT && saw_io) {
      report->passed = 1;
      return -1;
    }
    return kUnexpectedExit;
  }
  return kUnexpectedExit;
}
#elif defined(__aarch64__)
// From kGuestAddress with x0 = kMmioAddress, x1 = 0x42: expects the store to exit
// as an MMIO write of 0x42. Returns the step that failed, or -1 with report->passed.
int RunSmokeGuest(const SmokeVm& smoke, SmokeReport* report) {
  struct kvm_vcpu_init init = {};
  if (ioctl(smoke.vm, KVM_ARM_PREFERRED_TARGET, &init) < 0) return kPreferredTarget;
  if (ioctl(smoke.vcpu, KVM_ARM_VCPU_INIT, &init) < 0) return kVcpuInit;
  const int vcpu = smoke.vcpu;
  auto set_core_reg = [vcpu](uint64_t offset, uint64_t value) {
    struct kvm_one_reg reg = {};
    reg.id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / 4);
    reg.addr = reinterpret_cast<uint64_t>(&value);
    return ioctl(vcpu, KVM_SET_ONE_REG, &reg);
  };
  if (set_core_reg(offsetof(struct kvm_regs, regs.pc), kGuestAddress) < 0 ||
      set_core_reg(offsetof(struct kvm_regs, regs.regs[0]), kMmioAddress) < 0 ||
      set_core_reg(offsetof(struct kvm_regs, regs.regs[1]), 0x42) < 0) {
    return kSetRegs;
  }
  const struct kvm_run* run = smoke.run;
  for (int exits = 0; exits < 16; ++exits) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR) continue;
      return kRun;
    }
    report->exit_reason = static_cast<int>(run->exit_reason);
    if (run->exit_reason != KVM_EXIT_MMIO) return kUnexpectedExit;
    report->detail_a = run->mmio.phys_addr;
    report->detail_b = run->mmio.data[0];
    if (!run->mmio.is_write || run->mmio.phys_addr != kMmioAddress || run->mmio.data[0] != 0x42) {
      return kUnexpectedExit;
    }
    report->passed = 1;
    return -1;
  }
  return kUnexpectedExit;
}
#endif

// Runs in the forked child: system calls and plain memory only.
SmokeReport SmokeTestInChild(int kvm_fd) {
  SmokeReport report = {-1, 0, -1, 0, 0, 0};
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
  SmokeVm smoke;
  int failed = CreateSmokeVm(kvm_fd, &smoke);
  if (failed < 0) failed = RunSmokeGuest(smoke, &report);
#else
  (void)kvm_fd;
  errno = ENOSYS;
  const int failed = kCreateVm;
#endif
  if (failed >= 0) {
    report.step = failed;
    report.err = errno;
  }
  return report;
}

std::string DescribeSmokeReport(const SmokeReport& report) {
#if defined(__aarch64__)
  if (report.passed) {
    return absl::StrFormat("vCPU ran guest code to KVM_EXIT_MMIO write 0x%x at 0x%x",
                           report.detail_b, report.detail_a);
  }
#else
  if (report.passed) {
    return absl::StrFormat(
        "vCPU ran real-mode guest code: KVM_EXIT_IO out port 0x%x value 0x%x, then "
        "KVM_EXIT_HLT",
        report.detail_a, report.detail_b);
  }
#endif
  const char* step = report.step >= 0 && report.step < static_cast<int>(sizeof(kSmokeSteps) /
                                                                        sizeof(kSmokeSteps[0]))
                         ? kSmokeSteps[report.step]
                         : "unknown step";
  if (report.step == kUnexpectedExit) {
    return absl::StrFormat("unexpected exit: reason %d (port/address 0x%x, value 0x%x)",
                           report.exit_reason, report.detail_a, report.detail_b);
  }
  return absl::StrCat(step, " failed: ", std::strerror(report.err), " (errno ", report.err, ")");
}

std::string ModeString(uint32_t mode) { return absl::StrFormat("%04o", mode); }

}  // namespace

farm::v1::SmokeTest RunKvmSmokeTest(int kvm_fd, absl::Duration timeout) {
  farm::v1::SmokeTest smoke;
  const absl::Time start = absl::Now();
  int report_pipe[2];
  if (pipe2(report_pipe, O_CLOEXEC) != 0) {
    smoke.set_outcome(farm::v1::OUTCOME_SKIP);
    smoke.set_detail(absl::StrCat("pipe2: ", std::strerror(errno)));
    return smoke;
  }
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) {
    const int err = errno;
    close(report_pipe[0]);
    close(report_pipe[1]);
    smoke.set_outcome(farm::v1::OUTCOME_SKIP);
    smoke.set_detail(absl::StrCat("fork: ", std::strerror(err)));
    return smoke;
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    close(report_pipe[0]);
    const SmokeReport report = SmokeTestInChild(kvm_fd);
    ssize_t ignored = write(report_pipe[1], &report, sizeof(report));
    (void)ignored;
    _exit(0);
  }
  close(report_pipe[1]);

  SmokeReport report = {};
  size_t got = 0;
  bool timed_out = false;
  const absl::Time deadline = start + timeout;
  while (got < sizeof(report)) {
    const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pfd = {report_pipe[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n =
        read(report_pipe[0], reinterpret_cast<char*>(&report) + got, sizeof(report) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child died without reporting
    got += static_cast<size_t>(n);
  }
  close(report_pipe[0]);
  kill(child, SIGKILL);  // finished or not, it must go
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  *smoke.mutable_duration() = ToProtoDuration(absl::Now() - start);

  if (timed_out) {
    smoke.set_outcome(farm::v1::OUTCOME_FAIL);
    smoke.set_detail(absl::StrCat("the vCPU did not reach its exit within ",
                                  absl::FormatDuration(timeout), "; the test process was killed"));
  } else if (got < sizeof(report)) {
    smoke.set_outcome(farm::v1::OUTCOME_FAIL);
    smoke.set_detail(absl::StrCat("the test process died without reporting (status ", status, ")"));
  } else {
    smoke.set_outcome(report.passed ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_FAIL);
    smoke.set_detail(DescribeSmokeReport(report));
  }
  return smoke;
}

void AddKvmNodeChecks(const farm::v1::KvmNodeProbe& node, absl::string_view source,
                      Checks* checks) {
  if (!node.present()) {
    AddCheck(checks, "kvm.node", farm::v1::OUTCOME_FAIL, "/dev/kvm does not exist", source);
    return;
  }
  std::string node_detail = "/dev/kvm exists";
  if (node.has_mode()) {
    absl::StrAppend(&node_detail, ", mode ", ModeString(node.mode()), " owner ", node.owner(), ":",
                    node.group());
  }
  AddCheck(checks, "kvm.node", farm::v1::OUTCOME_PASS, node_detail, source);

  if (node.opened()) {
    AddCheck(checks, "kvm.open", farm::v1::OUTCOME_PASS, "open(/dev/kvm, O_RDWR) succeeded",
             source);
  } else if (node.has_open_errno()) {
    AddCheck(checks, "kvm.open", farm::v1::OUTCOME_FAIL,
             absl::StrCat("open(/dev/kvm, O_RDWR): ", std::strerror(node.open_errno()), " (errno ",
                          node.open_errno(), ")"),
             source);
    return;
  } else {
    AddCheck(checks, "kvm.open", farm::v1::OUTCOME_SKIP, "not recorded for this device", source);
    return;
  }

  if (node.has_api_version()) {
    AddCheck(checks, "kvm.api_version",
             node.api_version() == 12 ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_FAIL,
             node.api_version() < 0
                 // An emulator that passes no KVM ioctls through (qemu-user) looks so.
                 ? "KVM_GET_API_VERSION failed: the ioctl is not answered here"
                 : absl::StrCat("KVM_GET_API_VERSION = ", node.api_version(),
                                node.api_version() == 12 ? "" : " (expected 12)"),
             source);
  }
  if (node.extensions_size() > 0) {
    std::string caps;
    for (const farm::v1::KvmExtension& ext : node.extensions()) {
      absl::StrAppend(&caps, caps.empty() ? "" : " ", ext.name(), "=", ext.value());
    }
    AddCheck(checks, "kvm.extensions", farm::v1::OUTCOME_PASS, caps, source);
  }
  if (node.has_smoke_test()) {
    AddCheck(checks, "kvm.smoke_test", node.smoke_test().outcome(), node.smoke_test().detail(),
             source);
  } else {
    AddCheck(checks, "kvm.smoke_test", farm::v1::OUTCOME_SKIP,
             node.has_api_version() && node.api_version() != 12
                 ? "not run: the KVM API is not the stable 12"
                 : "not run",
             source);
  }
}

// A fixture tree's /dev/kvm: the answers recorded in kvm_probe.textproto when it
// parses and agrees with the tree on whether the node exists; otherwise (with a
// kvm.recorded check saying why) only the tree's word on its presence.
farm::v1::KvmNodeProbe FixtureKvmNode(const Sysroot& sysroot, Checks* checks) {
  const std::string recorded = "/kvm_probe.textproto";
  const bool node_in_tree = sysroot.Exists("/dev/kvm");
  farm::v1::KvmNodeProbe node;
  if (sysroot.Exists(recorded)) {
    absl::StatusOr<std::string> text = sysroot.ReadFile(recorded, 1 << 20);
    const absl::Status parse = text.ok() ? ParseTextProto(*text, &node) : text.status();
    const bool parsed = parse.ok();
    if (parsed && node.present() == node_in_tree) {
      AddKvmNodeChecks(node, "kvm_probe.textproto", checks);
      return node;
    }
    if (parsed) {
      AddCheck(checks, "kvm.recorded", farm::v1::OUTCOME_FAIL,
               absl::StrCat("inconsistent fixture: ", sysroot.Resolve(recorded), " says present: ",
                            node.present() ? "true" : "false", " but ", sysroot.Resolve("/dev/kvm"),
                            node_in_tree ? " exists" : " does not exist",
                            "; add or remove dev/kvm or fix the file (its answers are ignored)"),
               "kvm_probe.textproto");
    } else {
      AddCheck(checks, "kvm.recorded", farm::v1::OUTCOME_WARN,
               absl::StrCat(sysroot.Resolve(recorded), " is not a valid KvmNodeProbe textproto (",
                            parse.message(), "); ignored"),
               "kvm_probe.textproto");
    }
    node.Clear();
  }
  node.set_present(node_in_tree);
  AddKvmNodeChecks(node, "fixture tree", checks);
  return node;
}

farm::v1::KvmNodeProbe ProbeKvmNode(const Sysroot& sysroot, const KvmProbeOptions& options,
                                    Checks* checks) {
  if (!sysroot.is_host()) return FixtureKvmNode(sysroot, checks);
  farm::v1::KvmNodeProbe node;
  absl::StatusOr<struct stat> st = sysroot.Stat("/dev/kvm");
  if (!st.ok()) {
    node.set_present(false);
    AddKvmNodeChecks(node, "/dev/kvm", checks);
    return node;
  }
  node.set_present(true);
  node.set_mode(st->st_mode & 07777);
  node.set_owner(UserName(st->st_uid));
  node.set_group(GroupName(st->st_gid));
  const int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) {
    node.set_open_errno(errno);
    AddKvmNodeChecks(node, "/dev/kvm", checks);
    return node;
  }
  node.set_opened(true);
  node.set_api_version(ioctl(kvm_fd, KVM_GET_API_VERSION, 0));
  auto add_caps = [&](const Capability* caps, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      farm::v1::KvmExtension* ext = node.add_extensions();
      ext->set_name(caps[i].name);
      ext->set_id(static_cast<uint32_t>(caps[i].id));
      const int value = ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].id);
      ext->set_value(value < 0 ? 0 : value);
    }
  };
  // Answers of a KVM without the stable API (or of an emulator that passes no KVM
  // ioctls through: qemu-user) would read as "unsupported"; better none.
  if (node.api_version() == 12) {
    add_caps(kCommonCaps, sizeof(kCommonCaps) / sizeof(kCommonCaps[0]));
#if defined(__aarch64__)
    add_caps(kArm64Caps, sizeof(kArm64Caps) / sizeof(kArm64Caps[0]));
#else
    add_caps(kX86Caps, sizeof(kX86Caps) / sizeof(kX86Caps[0]));
#endif
  }
#if defined(__aarch64__)
  (void)kX86Caps;
#else
  (void)kArm64Caps;
#endif
  if (options.run_smoke_test && node.api_version() == 12) {
    *node.mutable_smoke_test() = RunKvmSmokeTest(kvm_fd, options.smoke_test_timeout);
  }
  close(kvm_fd);
  AddKvmNodeChecks(node, "/dev/kvm", checks);
  return node;
}

}  // namespace kvmfarm::probe
