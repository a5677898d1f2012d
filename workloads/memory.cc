#include "workloads/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "workloads/timer.h"

namespace kvmfarm::workloads {
namespace {

constexpr size_t kCacheLine = 64;

// An anonymous mapping, touched so page faults stay out of the timed region.
class Buffer {
 public:
  ~Buffer() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  absl::Status Allocate(uint64_t size) {
    size_ = size;
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate a ", size >> 20, " MiB buffer: ", std::strerror(errno)));
    }
    data_ = static_cast<uint64_t*>(p);
    std::memset(data_, 0, size);
    return absl::OkStatus();
  }
  uint64_t* data() { return data_; }
  uint64_t words() const { return size_ / sizeof(uint64_t); }

 private:
  uint64_t* data_ = nullptr;
  uint64_t size_ = 0;
};

std::string CacheNote(uint64_t size_bytes) {
  const uint64_t llc = LastLevelCacheBytes();
  if (llc == 0) return "last-level cache size unknown: buffer not checked against it";
  if (size_bytes < 4 * llc) {
    return absl::StrCat("buffer ", size_bytes >> 20, " MiB is smaller than 4x the ", llc >> 20,
                        " MiB last-level cache: partly cache-resident");
  }
  return "";
}

class SequentialWorkload final : public Workload {
 public:
  SequentialWorkload(bool write, uint64_t size_bytes, uint64_t passes)
      : write_(write),
        name_(write ? "mem_write" : "mem_read"),
        size_bytes_(size_bytes),
        passes_(passes) {}

  const std::string& name() const override { return name_; }
  std::map<std::string, std::string> parameters() const override {
    return {{"size_bytes", absl::StrCat(size_bytes_)}, {"iterations", absl::StrCat(passes_)}};
  }
  std::string note() const override { return CacheNote(size_bytes_); }

  absl::Status Prepare() override {
    RETURN_IF_ERROR(buffer_.Allocate(size_bytes_));
    uint64_t* data = buffer_.data();
    for (uint64_t i = 0; i < buffer_.words(); ++i) data[i] = i;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Sample>> RunOnce() override {
    double best = 0;
    for (uint64_t pass = 0; pass <= passes_; ++pass) {  // pass 0 warms up
      const double start = MonotonicSeconds();
      absl::Status checked = write_ ? WritePass(pass) : ReadPass();
      const double seconds = MonotonicSeconds() - start;
      if (!checked.ok()) return checked;
      if (pass > 0 && (best == 0 || seconds < best)) best = seconds;
    }
    return std::vector<Sample>{
        {name_ + ".bandwidth", static_cast<double>(size_bytes_) / best / 1e6}};
  }

 private:
  absl::Status ReadPass() {
    const uint64_t* data = buffer_.data();
    const uint64_t n = buffer_.words();
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    uint64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      s0 += data[i];
      s1 += data[i + 1];
      s2 += data[i + 2];
      s3 += data[i + 3];
    }
    for (; i < n; ++i) s0 += data[i];
    const uint64_t sum = s0 + s1 + s2 + s3;
    KeepAlive(sum);
    // Words hold 0..n-1 (or a later write pass's value; mem_read never writes).
    const uint64_t expected = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
    if (sum != expected) {
      return absl::DataLossError(absl::StrFormat(
          "mem_read: buffer sum %d, expected %d: no figure reported", sum, expected));
    }
    return absl::OkStatus();
  }

  absl::Status WritePass(uint64_t pass) {
    uint64_t* data = buffer_.data();
    const uint64_t n = buffer_.words();
    const uint64_t value = 0x0101010101010101ull * (pass + 1);
    for (uint64_t i = 0; i < n; ++i) data[i] = value;
    KeepAlive(data[n - 1]);
    const uint64_t stride = std::max<uint64_t>(1, n / 1024);
    for (uint64_t i = 0; i < n; i += stride) {
      if (data[i] != value) {
        return absl::DataLossError(
            absl::StrFormat("mem_write: word %d reads back %#x, wrote %#x", i, data[i], value));
      }
    }
    return absl::OkStatus();
  }

  const bool write_;
  const std::string name_;
  const uint64_t size_bytes_;
  const uint64_t passes_;
  Buffer buffer_;
};

class RandomWorkload final : public Workload {
 public:
  RandomWorkload(uint64_t size_bytes, uint64_t steps) : size_bytes_(size_bytes), steps_(steps) {}
  const std::string& name() const override { return name_; }
  std::map<std::string, std::string> parameters() const override {
    return {{"size_bytes", absl::StrCat(size_bytes_)}, {"iterations", absl::StrCat(steps_)}};
  }
  std::string note() const override { return CacheNote(size_bytes_); }

  absl::Status Prepare() override {
    RETURN_IF_ERROR(buffer_.Allocate(size_bytes_));
    lines_ = size_bytes_ / kCacheLine;
    const uint64_t words_per_line = kCacheLine / sizeof(uint64_t);
    // Sattolo's algorithm: a random permutation that is one single cycle.
    std::vector<uint32_t> order(lines_);
    for (uint64_t i = 0; i < lines_; ++i) order[i] = static_cast<uint32_t>(i);
    std::mt19937_64 rng(42);
    for (uint64_t i = lines_ - 1; i > 0; --i) {
      std::uniform_int_distribution<uint64_t> pick(0, i - 1);
      std::swap(order[i], order[pick(rng)]);
    }
    uint64_t* data = buffer_.data();
    for (uint64_t i = 0; i < lines_; ++i) data[i * words_per_line] = order[i] * words_per_line;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Sample>> RunOnce() override {
    const uint64_t* data = buffer_.data();
    uint64_t at = 0;
    const double start = MonotonicSeconds();
    for (uint64_t i = 0; i < steps_; ++i) at = data[at];
    const double seconds = MonotonicSeconds() - start;
    KeepAlive(at);
    // The rest of the cycle must lead back to the start.
    const uint64_t remaining = (lines_ - steps_ % lines_) % lines_;
    for (uint64_t i = 0; i < remaining; ++i) at = data[at];
    if (at != 0) {
      return absl::DataLossError(
          "mem_random: the pointer chase did not close its cycle: no figure reported");
    }
    const double ops = static_cast<double>(steps_) / seconds;
    return std::vector<Sample>{{"mem_random.ops", ops}, {"mem_random.latency_ns", 1e9 / ops}};
  }

 private:
  const std::string name_ = "mem_random";
  const uint64_t size_bytes_;
  const uint64_t steps_;
  uint64_t lines_ = 0;
  Buffer buffer_;
};

}  // namespace

uint64_t LastLevelCacheBytes() {
  uint64_t best = 0;
  int best_level = -1;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu0/cache/index", index);
    std::ifstream level_file(dir + "/level"), size_file(dir + "/size");
    if (!level_file || !size_file) continue;
    int level = 0;
    std::string size_text;
    level_file >> level;
    size_file >> size_text;
    uint64_t multiplier = 1;
    if (!size_text.empty() && (size_text.back() == 'K' || size_text.back() == 'M')) {
      multiplier = size_text.back() == 'K' ? 1024 : 1024 * 1024;
      size_text.pop_back();
    }
    uint64_t size = 0;
    if (!absl::SimpleAtoi(size_text, &size)) continue;
    if (level > best_level || (level == best_level && size * multiplier > best)) {
      best_level = level;
      best = size * multiplier;
    }
  }
  return best;
}

std::unique_ptr<Workload> MakeMemReadWorkload(uint64_t size_bytes, uint64_t passes) {
  return std::make_unique<SequentialWorkload>(false, size_bytes, passes);
}
std::unique_ptr<Workload> MakeMemWriteWorkload(uint64_t size_bytes, uint64_t passes) {
  return std::make_unique<SequentialWorkload>(true, size_bytes, passes);
}
std::unique_ptr<Workload> MakeMemRandomWorkload(uint64_t size_bytes, uint64_t steps) {
  return std::make_unique<RandomWorkload>(size_bytes, steps);
}

}  // namespace kvmfarm::workloads
