// io: sequential write then read of a file (metrics io.write and io.read, MB/s of
// 10^6 bytes), with O_DIRECT where the filesystem supports it so the page cache
// doesn't stand in for the disk; the write's fsync is inside the timed region.
// Where O_DIRECT is refused, it falls back to buffered I/O with a note (the read
// then drops the file from the cache first). A RAM filesystem (tmpfs, ramfs) is
// refused: its figure would be memory bandwidth labelled as a disk's.
// Validation: every block read back carries the stamp it was written with.
// The file has no name (O_TMPFILE, or a file unlinked as soon as it is open) and is
// read back through the descriptor it was written with, so nothing is left in the
// directory however the process ends, SIGKILL included.
#ifndef KVMFARM_WORKLOADS_IO_H_
#define KVMFARM_WORKLOADS_IO_H_

#include <cstdint>
#include <memory>
#include <string>

#include "workloads/workload.h"

namespace kvmfarm::workloads {

constexpr uint64_t kIoBlockBytes = 1 << 20;

std::unique_ptr<Workload> MakeIoWorkload(const std::string& directory, uint64_t size_bytes);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_IO_H_
