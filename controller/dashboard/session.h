// -----------------------------------------------------------------------------
// File: session.h
// -----------------------------------------------------------------------------
//
// The dashboard's sign-in: a browser trades an operator's token for a session
// cookie, and its forms carry a CSRF token bound to who it is.
//
// A session is stateless, so every replica honours it (issue 18): the cookie holds
// the SHA-256 of the token signed in with (never the token), when it expires and a
// random nonce, signed with HMAC-SHA256 under the lab's session key. Every request
// looks the hash up in the access file again, so a grant removed there ends its
// sessions at once. Replicas that share sessions share the key file
// (--dashboard_session_key_file), as they share the access file; without one each
// process makes its own key, and a restart signs everyone out.
//
// Example:
//
//   ASSIGN_OR_RETURN(SessionKeys keys, SessionKeys::FromFile(path));
//   std::string cookie = keys.Issue(TokenHash(token), now);
//   ASSIGN_OR_RETURN(Session session, keys.Open(cookie, now));
#ifndef KVMFARM_CONTROLLER_DASHBOARD_SESSION_H_
#define KVMFARM_CONTROLLER_DASHBOARD_SESSION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kvmfarm::dashboard {

inline constexpr absl::Duration kSessionLifetime = absl::Hours(8);

struct Session {
  // The SHA-256 of the token signed in with (auth::TokenHash).
  std::string token_hash;
  absl::Time expires;
  // Random per sign-in: the CSRF token of the session is bound to it.
  std::string nonce;
};

class SessionKeys {
 public:
  // The key in `path` (at least 32 bytes). A missing file is created with a new
  // random key, mode 0600 (O_EXCL: of replicas racing, one writes and all read
  // it). INVALID_ARGUMENT for a file too short to be a key.
  static absl::StatusOr<SessionKeys> FromFile(const std::string& path);
  // A key of this process only.
  static SessionKeys Random();

  // The cookie's value for a session opened now by the token of `token_hash`.
  std::string Issue(const std::string& token_hash, absl::Time now,
                    absl::Duration lifetime = kSessionLifetime) const;
  // The session `cookie` holds; UNAUTHENTICATED saying why (malformed, not signed
  // by this key, expired).
  absl::StatusOr<Session> Open(absl::string_view cookie, absl::Time now) const;

  // The CSRF token of the forms shown to `principal` (a session's nonce, a
  // certificate's name), and whether a submitted one is it (in constant time).
  std::string CsrfToken(absl::string_view principal) const;
  bool CsrfMatches(absl::string_view principal, absl::string_view token) const;

 private:
  explicit SessionKeys(std::string key) : key_(std::move(key)) {}
  std::string Mac(absl::string_view text) const;

  std::string key_;
};

}  // namespace kvmfarm::dashboard

#endif  // KVMFARM_CONTROLLER_DASHBOARD_SESSION_H_
