#include "agent/vm/provenance.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/subprocess.h"

namespace kvmfarm::vm {
namespace {

// Adds the file at `path` to `digest`; false when it can't be read.
bool HashFile(const std::string& path, EVP_MD_CTX* digest) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    EVP_DigestUpdate(digest, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return in.eof();
}

// (path, size, modification time) of a file; what a cached digest is valid for.
std::tuple<std::string, off_t, int64_t, int64_t> FileKey(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {path, -1, 0, 0};
  return {path, info.st_size, info.st_mtim.tv_sec, info.st_mtim.tv_nsec};
}

absl::Mutex cache_mu;

}  // namespace

std::string QemuVersion(const std::string& qemu_binary) {
  static auto* versions = new std::map<std::string, std::string>;
  {
    absl::MutexLock lock(&cache_mu);
    auto it = versions->find(qemu_binary);
    if (it != versions->end()) return it->second;
  }
  ProcessSpec spec;
  spec.argv = {qemu_binary, "--version"};
  spec.timeout = absl::Seconds(10);
  spec.max_output_bytes = 4096;
  absl::StatusOr<ProcessResult> ran = RunProcess(std::move(spec));
  if (!ran.ok() || !ran->Succeeded()) return "";  // not cached: it may be installed later
  std::string line = ran->stdout_data.substr(0, ran->stdout_data.find('\n'));
  const size_t at = line.find("version ");
  std::string version(absl::StripAsciiWhitespace(
      at == std::string::npos ? line : line.substr(at + sizeof("version ") - 1)));
  absl::MutexLock lock(&cache_mu);
  (*versions)[qemu_binary] = version;
  return version;
}

std::string ImageSha256(const GuestImage& image) {
  using Key = std::pair<decltype(FileKey("")), decltype(FileKey(""))>;
  static auto* digests = new std::map<Key, std::string>;
  const Key key{FileKey(image.kernel), FileKey(image.initramfs)};
  {
    absl::MutexLock lock(&cache_mu);
    auto it = digests->find(key);
    if (it != digests->end()) return it->second;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> digest(EVP_MD_CTX_new(),
                                                                 &EVP_MD_CTX_free);
  EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr);
  if (!HashFile(image.kernel, digest.get()) || !HashFile(image.initramfs, digest.get())) return "";
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(digest.get(), out, &length);
  const std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(length)));
  absl::MutexLock lock(&cache_mu);
  (*digests)[key] = hex;
  return hex;
}

}  // namespace kvmfarm::vm
