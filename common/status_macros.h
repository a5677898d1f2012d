// -----------------------------------------------------------------------------
// File: status_macros.h
// -----------------------------------------------------------------------------
//
// RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status / absl::StatusOr, which
// abseil 20220623 does not ship.
//
// Example:
//
//   absl::StatusOr<Config> LoadConfig(absl::string_view path) {
//     ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     RETURN_IF_ERROR(Validate(text));
//     return Parse(text);
//   }
#ifndef KVMFARM_COMMON_STATUS_MACROS_H_
#define KVMFARM_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if
// it is not OK.
#define RETURN_IF_ERROR(expr)                             \
  do {                                                    \
    ::absl::Status kvmfarm_status_macro_status_ = (expr); \
    if (!kvmfarm_status_macro_status_.ok()) {             \
      return kvmfarm_status_macro_status_;                \
    }                                                     \
  } while (false)

#define KVMFARM_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define KVMFARM_STATUS_MACROS_CONCAT(a, b) KVMFARM_STATUS_MACROS_CONCAT_INNER(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from the
// enclosing function, otherwise moves the value into `lhs`, which may declare a
// variable ("auto x", "std::string s") or name an existing one.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                                            \
  KVMFARM_ASSIGN_OR_RETURN_IMPL(KVMFARM_STATUS_MACROS_CONCAT(kvmfarm_statusor_, __LINE__), lhs, \
                                rexpr)

#define KVMFARM_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) {                                     \
    return std::move(statusor).status();                    \
  }                                                         \
  lhs = std::move(statusor).value()

#endif  // KVMFARM_COMMON_STATUS_MACROS_H_
