// crypto: SHA-256 and AES-256-GCM throughput through OpenSSL's EVP interface
// (hardware instructions where the CPU has them), over 16 KiB buffers like
// `openssl speed -bytes 16384`. Metrics crypto.sha256 and crypto.aes256gcm, MB/s
// (10^6 bytes). Validation: a known SHA-256 answer for the buffer, and every
// AES-GCM run decrypts its last block and checks the tag.
#ifndef KVMFARM_WORKLOADS_CRYPTO_H_
#define KVMFARM_WORKLOADS_CRYPTO_H_

#include <memory>

#include "workloads/workload.h"

namespace kvmfarm::workloads {

std::unique_ptr<Workload> MakeCryptoWorkload(uint64_t total_bytes);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_CRYPTO_H_
