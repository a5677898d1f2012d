// -----------------------------------------------------------------------------
// File: auth/access_file.h
// -----------------------------------------------------------------------------
//
// Who may call the controller, as a lab's administrator writes it (or
// `tools/pki/pki.sh token` appends to it): one grant per line,
//
//   # comment (also after a grant)
//   token NAME ROLE sha256:HEX     a bearer token, kept as its SHA-256 only
//   certificate NAME ROLE          the operator certificate spiffe://LAB/operator/NAME
//
// ROLE is viewer, operator or admin. Tokens are never stored in clear: the file
// leaking gives nobody a token. A NAME appears once per kind.
//
// Example:
//
//   ASSIGN_OR_RETURN(AccessGrants grants, ParseAccessFile(text, "lab/access"));
//   const Grant* alice = grants.ForCertificate("alice");
#ifndef KVMFARM_CONTROLLER_AUTH_ACCESS_FILE_H_
#define KVMFARM_CONTROLLER_AUTH_ACCESS_FILE_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::auth {

// Each role may do what the ones before it may.
enum class Role { kViewer = 1, kOperator = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

struct Grant {
  std::string name;
  Role role = Role::kViewer;
};

class AccessGrants {
 public:
  // The grant of the token whose SHA-256 (lower-case hex) is `token_sha256`.
  const Grant* ForTokenHash(const std::string& token_sha256) const;
  // The grant of operator certificate NAME.
  const Grant* ForCertificate(const std::string& name) const;

 private:
  friend absl::StatusOr<AccessGrants> ParseAccessFile(absl::string_view, absl::string_view);
  std::map<std::string, Grant> by_token_hash_;
  std::map<std::string, Grant> by_certificate_;
};

// The grants in `text`; INVALID_ARGUMENT naming `path` and the line otherwise.
absl::StatusOr<AccessGrants> ParseAccessFile(absl::string_view text, absl::string_view path);

// SHA-256 of `token`, lower-case hex, as the access file keeps it.
std::string TokenHash(absl::string_view token);

}  // namespace kvmfarm::auth

#endif  // KVMFARM_CONTROLLER_AUTH_ACCESS_FILE_H_
