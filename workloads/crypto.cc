#include "workloads/crypto.h"

#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "workloads/timer.h"

namespace kvmfarm::workloads {
namespace {

// SHA-256 of the 16 KiB block whose byte i is (31 * i + 7) mod 256.
constexpr char kBlockSha256Hex[] =
    "9038ac64e659335ccbfdd3f684f35a26a2c9e580d9af6b4807af3adbe2c257e3";

class CryptoWorkload final : public Workload {
 public:
  explicit CryptoWorkload(uint64_t total_bytes) : total_bytes_(total_bytes) {}

  const std::string& name() const override { return name_; }
  std::map<std::string, std::string> parameters() const override {
    return {{"size_bytes", absl::StrCat(total_bytes_)},
            {"block_bytes", absl::StrCat(kCryptoBlockBytes)}};
  }

  absl::Status Prepare() override {
    block_.resize(kCryptoBlockBytes);
    for (size_t i = 0; i < block_.size(); ++i) {
      block_[i] = static_cast<unsigned char>(31 * i + 7);
    }
    cipher_.resize(kCryptoBlockBytes);
    plain_.resize(kCryptoBlockBytes);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Sample>> RunOnce() override {
    const uint64_t blocks = std::max<uint64_t>(1, total_bytes_ / kCryptoBlockBytes);
    ASSIGN_OR_RETURN(double sha, Sha256(blocks));
    ASSIGN_OR_RETURN(double gcm, Aes256Gcm(blocks));
    return std::vector<Sample>{{"crypto.sha256", sha}, {"crypto.aes256gcm", gcm}};
  }

 private:
  absl::StatusOr<double> Sha256(uint64_t blocks) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    const EVP_MD* md = EVP_sha256();
    const double start = MonotonicSeconds();
    for (uint64_t b = 0; b < blocks; ++b) {
      if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
          EVP_DigestUpdate(ctx.get(), block_.data(), block_.size()) != 1 ||
          EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) != 1) {
        return absl::InternalError("EVP SHA-256 failed");
      }
    }
    const double seconds = MonotonicSeconds() - start;
    const std::string hex = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), digest_len));
    if (hex != kBlockSha256Hex) {
      return absl::DataLossError(
          absl::StrCat("crypto: SHA-256 of the test block is ", hex, ", expected ", kBlockSha256Hex,
                       ": this build's crypto is broken, no figure reported"));
    }
    return static_cast<double>(blocks * block_.size()) / seconds / 1e6;
  }

  absl::StatusOr<double> Aes256Gcm(uint64_t blocks) {
    unsigned char key[32];
    unsigned char iv[12];
    for (int i = 0; i < 32; ++i) key[i] = static_cast<unsigned char>(i);
    for (int i = 0; i < 12; ++i) iv[i] = static_cast<unsigned char>(0xa0 + i);
    unsigned char tag[16];
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        &EVP_CIPHER_CTX_free);
    const EVP_CIPHER* cipher = EVP_aes_256_gcm();
    int len = 0;
    // Key schedule once, as a real connection does; then a fresh nonce per message.
    if (EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key, nullptr) != 1) {
      return absl::InternalError("EVP AES-256-GCM key setup failed");
    }
    const double start = MonotonicSeconds();
    for (uint64_t b = 0; b < blocks; ++b) {
      iv[11] = static_cast<unsigned char>(b);
      if (EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, nullptr, iv) != 1 ||
          EVP_EncryptUpdate(ctx.get(), cipher_.data(), &len, block_.data(),
                            static_cast<int>(block_.size())) != 1 ||
          EVP_EncryptFinal_ex(ctx.get(), cipher_.data() + len, &len) != 1 ||
          EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
        return absl::InternalError("EVP AES-256-GCM encryption failed");
      }
    }
    const double seconds = MonotonicSeconds() - start;
    // Validation: the last message decrypts, with its tag, to the plaintext.
    int plain_len = 0;
    if (EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key, iv) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain_.data(), &plain_len, cipher_.data(),
                          static_cast<int>(cipher_.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain_.data() + plain_len, &len) != 1 ||
        std::memcmp(plain_.data(), block_.data(), block_.size()) != 0 ||
        std::memcmp(cipher_.data(), block_.data(), 64) == 0) {
      return absl::DataLossError(
          "crypto: AES-256-GCM output does not decrypt to its input: this build's "
          "crypto is broken, no figure reported");
    }
    return static_cast<double>(blocks * block_.size()) / seconds / 1e6;
  }

  const std::string name_ = "crypto";
  const uint64_t total_bytes_;
  std::vector<unsigned char> block_, cipher_, plain_;
};

}  // namespace

std::unique_ptr<Workload> MakeCryptoWorkload(uint64_t total_bytes) {
  return std::make_unique<CryptoWorkload>(total_bytes);
}

}  // namespace kvmfarm::workloads
