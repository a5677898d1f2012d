#include "controller/dashboard/session.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/tls/hmac.h"

namespace kvmfarm::dashboard {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr absl::string_view kVersion = "v1";

// Random bytes from OpenSSL's CSPRNG. Without them no session could be trusted (a
// key of zeros is anyone's), so a failure stops the controller.
std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    FARM_LOG(ERROR) << "OpenSSL has no random bytes for dashboard sessions";
    std::abort();
  }
  return bytes;
}

bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Writes a new key to `path` unless the file exists (then another replica won). The
// key is written whole to a file of this process's own and linked into place, so
// no replica ever reads a half-written key.
absl::Status CreateKeyFile(const std::string& path) {
  const std::string temporary = absl::StrCat(path, ".", getpid(), ".new");
  const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("--dashboard_session_key_file ", path,
                                               ": can't create it: ", std::strerror(errno)));
  }
  const std::string key = absl::BytesToHexString(RandomBytes(kKeyBytes)) + "\n";
  const bool written = write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  const bool synced = fsync(fd) == 0;
  close(fd);
  const bool linked =
      written && synced && (link(temporary.c_str(), path.c_str()) == 0 || errno == EEXIST);
  unlink(temporary.c_str());
  if (!linked) {
    return absl::UnavailableError(
        absl::StrCat("--dashboard_session_key_file ", path, ": can't write it"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SessionKeys> SessionKeys::FromFile(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) RETURN_IF_ERROR(CreateKeyFile(path));
  RETURN_IF_ERROR(CheckOwnerOnly(path, "--dashboard_session_key_file"));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return absl::UnavailableError(
        absl::StrCat("--dashboard_session_key_file ", path, ": can't read it"));
  }
  std::string key(absl::StripAsciiWhitespace(text.str()));
  if (key.size() < kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("--dashboard_session_key_file ", path, " holds ",
                                                   key.size(), " bytes; a session key is at least ",
                                                   kKeyBytes));
  }
  return SessionKeys(std::move(key));
}

SessionKeys SessionKeys::Random() { return SessionKeys(RandomBytes(kKeyBytes)); }

std::string SessionKeys::Mac(absl::string_view text) const { return HmacSha256Hex(key_, text); }

std::string SessionKeys::Issue(const std::string& token_hash, absl::Time now,
                               absl::Duration lifetime) const {
  const std::string body =
      absl::StrCat(kVersion, ".", token_hash, ".", absl::ToUnixSeconds(now + lifetime), ".",
                   absl::BytesToHexString(RandomBytes(16)));
  return absl::StrCat(body, ".", Mac(body));
}

absl::StatusOr<Session> SessionKeys::Open(absl::string_view cookie, absl::Time now) const {
  const std::vector<absl::string_view> parts = absl::StrSplit(cookie, '.');
  int64_t expires_s = 0;
  if (parts.size() != 5 || parts[0] != kVersion || !absl::SimpleAtoi(parts[2], &expires_s)) {
    return absl::UnauthenticatedError("the session cookie is malformed: sign in again");
  }
  const absl::string_view body = cookie.substr(0, cookie.size() - parts[4].size() - 1);
  if (!ConstantTimeEqual(Mac(body), parts[4])) {
    return absl::UnauthenticatedError(
        "the session cookie was not signed by this lab's session key: sign in again");
  }
  Session session{std::string(parts[1]), absl::FromUnixSeconds(expires_s), std::string(parts[3])};
  if (session.expires <= now) {
    return absl::UnauthenticatedError("the session has expired: sign in again");
  }
  return session;
}

std::string SessionKeys::CsrfToken(absl::string_view principal) const {
  return Mac(absl::StrCat("csrf.", principal));
}

bool SessionKeys::CsrfMatches(absl::string_view principal, absl::string_view token) const {
  return ConstantTimeEqual(CsrfToken(principal), token);
}

}  // namespace kvmfarm::dashboard
