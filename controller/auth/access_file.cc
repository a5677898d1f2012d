#include "controller/auth/access_file.h"

#include <openssl/evp.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/device_id.h"

namespace kvmfarm::auth {

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

const Grant* AccessGrants::ForTokenHash(const std::string& token_sha256) const {
  auto it = by_token_hash_.find(token_sha256);
  return it == by_token_hash_.end() ? nullptr : &it->second;
}

const Grant* AccessGrants::ForCertificate(const std::string& name) const {
  auto it = by_certificate_.find(name);
  return it == by_certificate_.end() ? nullptr : &it->second;
}

std::string TokenHash(absl::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::StatusOr<AccessGrants> ParseAccessFile(absl::string_view text, absl::string_view path) {
  AccessGrants grants;
  std::map<std::string, bool> token_names;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    // A comment runs from '#' to the end of the line, after a grant too.
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", why));
    };
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const bool token = fields[0] == "token";
    if (!token && fields[0] != "certificate") {
      return bad("a grant is 'token NAME ROLE sha256:HEX' or 'certificate NAME ROLE'");
    }
    if (fields.size() != (token ? 4u : 3u)) {
      return bad(token ? "want: token NAME ROLE sha256:HEX" : "want: certificate NAME ROLE");
    }
    Grant grant;
    grant.name = std::string(fields[1]);
    if (!CheckDeviceId(grant.name, "NAME").ok()) {
      return bad("NAME: letters, digits, '.', '_' or '-', starting with a letter or digit");
    }
    const std::optional<Role> role = ParseRole(fields[2]);
    if (!role) return bad(absl::StrCat("role '", fields[2], "': viewer, operator or admin"));
    grant.role = *role;
    if (!token) {
      if (!grants.by_certificate_.emplace(grant.name, grant).second) {
        return bad(absl::StrCat("certificate ", grant.name, " is granted twice"));
      }
      continue;
    }
    absl::string_view hash = fields[3];
    if (!absl::ConsumePrefix(&hash, "sha256:") || hash.size() != 64 ||
        !std::all_of(hash.begin(), hash.end(),
                     [](char c) { return absl::ascii_isxdigit(c) && !absl::ascii_isupper(c); })) {
      return bad("the token is kept as sha256: and 64 lower-case hex digits");
    }
    if (!token_names.emplace(grant.name, true).second) {
      return bad(absl::StrCat("token ", grant.name, " is granted twice"));
    }
    if (!grants.by_token_hash_.emplace(std::string(hash), grant).second) {
      return bad("the same token is granted twice");
    }
  }
  return grants;
}

}  // namespace kvmfarm::auth
