#include "agent/probe/properties.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/utf8.h"

namespace kvmfarm::probe {

absl::optional<std::string> Properties::Get(absl::string_view key) const {
  auto it = values_.find(std::string(key));
  if (it == values_.end()) return absl::nullopt;
  return it->second;
}

std::string Properties::GetOr(absl::string_view key, absl::string_view fallback) const {
  absl::optional<std::string> value = Get(key);
  return value.has_value() ? *value : std::string(fallback);
}

absl::StatusOr<Properties> ParseGetprop(absl::string_view text) {
  std::map<std::string, std::string> values;
  bool any_text = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    any_text = true;
    // [key]: [value] -- the value may itself contain brackets.
    if (line.front() != '[' || line.back() != ']') continue;
    const size_t separator = line.find("]: [");
    if (separator == absl::string_view::npos || separator < 2) continue;
    const absl::string_view key = line.substr(1, separator - 1);
    const absl::string_view value = line.substr(separator + 4, line.size() - separator - 5);
    values[std::string(key)] = std::string(value);
  }
  if (values.empty() && any_text) {
    return absl::InvalidArgumentError("not getprop output: no line of the form '[key]: [value]'");
  }
  return Properties(std::move(values));
}

absl::StatusOr<Properties> LoadProperties(const Sysroot& sysroot, const std::string& props_file) {
  if (!props_file.empty()) {
    Sysroot host("/");
    absl::StatusOr<std::string> text = host.ReadFile(props_file, 4 << 20);
    if (!text.ok()) {
      return absl::Status(text.status().code(), absl::StrCat("--props: ", text.status().message()));
    }
    absl::StatusOr<Properties> props = ParseGetprop(*text);
    if (!props.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--props ", props_file, ": ", props.status().message()));
    }
    props->set_source(props_file);
    return props;
  }
  if (!sysroot.is_host()) {
    if (!sysroot.Exists("/getprop.txt")) return Properties();
    ASSIGN_OR_RETURN(std::string text, sysroot.ReadFile("/getprop.txt", 4 << 20));
    absl::StatusOr<Properties> props = ParseGetprop(text);
    if (!props.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(sysroot.Resolve("/getprop.txt"), ": ", props.status().message()));
    }
    props->set_source(sysroot.Resolve("/getprop.txt"));
    return props;
  }
  if (!sysroot.Exists("/system/bin/getprop")) return Properties();
  ProcessSpec spec;
  spec.argv = {"/system/bin/getprop"};
  spec.timeout = absl::Seconds(5);
  ASSIGN_OR_RETURN(ProcessResult result, RunProcess(spec));
  if (!result.Succeeded()) {
    return absl::UnavailableError(absl::StrCat("/system/bin/getprop ", result.Describe()));
  }
  ASSIGN_OR_RETURN(Properties props, ParseGetprop(ValidUtf8(result.stdout_data)));
  props.set_source("getprop");
  return props;
}

}  // namespace kvmfarm::probe
