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
  int skipped = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    // [key]: [value] -- the value may itself contain brackets.
    const size_t separator = line.find("]: [");
    if (line.front() != '[' || line.back() != ']' || separator == absl::string_view::npos ||
        separator < 2) {
      ++skipped;
      continue;
    }
    const absl::string_view key = line.substr(1, separator - 1);
    const absl::string_view value = line.substr(separator + 4, line.size() - separator - 5);
    values[std::string(key)] = std::string(value);
  }
  if (values.empty() && skipped > 0) {
    return absl::InvalidArgumentError("not getprop output: no line of the form '[key]: [value]'");
  }
  Properties props(std::move(values));
  props.set_skipped_lines(skipped);
  return props;
}

namespace {

constexpr size_t kMaxGetpropBytes = 4 << 20;

absl::StatusOr<Properties> LoadPropsFile(const std::string& path) {
  absl::StatusOr<std::string> text = Sysroot("/").ReadFile(path, kMaxGetpropBytes);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("--props: ", text.status().message()));
  }
  absl::StatusOr<Properties> props = ParseGetprop(*text);
  if (!props.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--props ", path, ": ", props.status().message()));
  }
  props->set_source(path);
  return props;
}

// The device's own getprop output, or why there is none usable.
absl::StatusOr<std::string> DeviceGetpropText(const Sysroot& sysroot, std::string* source) {
  if (!sysroot.is_host()) {
    *source = sysroot.Resolve("/getprop.txt");
    return sysroot.ReadFile("/getprop.txt", kMaxGetpropBytes);
  }
  *source = "/system/bin/getprop";
  ProcessSpec spec;
  spec.argv = {"/system/bin/getprop"};
  spec.timeout = absl::Seconds(5);
  spec.max_output_bytes = kMaxGetpropBytes;
  ASSIGN_OR_RETURN(ProcessResult result, RunProcess(spec));
  if (!result.Succeeded()) return absl::UnavailableError(result.Describe());
  return ValidUtf8(result.stdout_data);
}

}  // namespace

absl::StatusOr<Properties> LoadProperties(const Sysroot& sysroot, const std::string& props_file,
                                          Checks* checks) {
  if (!props_file.empty()) return LoadPropsFile(props_file);
  const char* const device_source = sysroot.is_host() ? "/system/bin/getprop" : "/getprop.txt";
  if (!sysroot.Exists(device_source)) return Properties();
  std::string source;
  absl::StatusOr<std::string> text = DeviceGetpropText(sysroot, &source);
  absl::StatusOr<Properties> props =
      text.ok() ? ParseGetprop(*text) : absl::StatusOr<Properties>(text.status());
  if (!props.ok()) {
    AddCheck(checks, "android.properties", farm::v1::OUTCOME_FAIL,
             absl::StrCat("the device's properties are unusable (", props.status().message(),
                          "); the probe goes on without them"),
             source);
    return Properties();
  }
  props->set_source(sysroot.is_host() ? "getprop" : source);
  if (props->skipped_lines() > 0) {
    AddCheck(checks, "android.properties", farm::v1::OUTCOME_WARN,
             absl::StrCat(props->skipped_lines(),
                          " line(s) are not [key]: [value] (truncated or garbled) and were "
                          "skipped; ",
                          props->size(), " properties were read"),
             source);
  }
  return props;
}

}  // namespace kvmfarm::probe
