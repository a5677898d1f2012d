// The sweeps list, a sweep's live page and its tasks' logs.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/measurement.h"
#include "controller/dashboard/page_parts.h"
#include "controller/dashboard/pages.h"
#include "proto/states.h"

namespace kvmfarm::dashboard {
namespace {

// The form that starts a sweep: farmctl sweep start's flags, as fields.
std::string StartSweepForm(const Frame& frame) {
  if (frame.role < auth::Role::kOperator) return "";
  return absl::StrCat(
      "<div class=\"panel\"><h2>Start a sweep</h2><form class=\"inline\" method=\"post\" "
      "action=\"/sweeps\" id=\"start-sweep\">",
      CsrfField(frame),
      "<label>Labels<input name=\"selector\" placeholder=\"soc_vendor=qualcomm\"></label>"
      "<label>Devices<input name=\"devices\" placeholder=\"id,id\"></label>"
      "<label>Plan<input name=\"plan\" value=\"capability,native\" required></label>"
      "<label>Workloads<input name=\"workloads\" placeholder=\"crypto,float\"></label>"
      "<label>Repetitions<input name=\"repetitions\" type=\"number\" min=\"1\" max=\"100\" "
      "value=\"5\"></label><button class=\"primary\">Start</button></form>"
      "<p class=\"muted\">Plan steps: capability, native, kvm, tcg, boot, boot3. Workloads run at "
      "their quick sizes.</p></div>");
}

std::string Progress(const farm::v1::Sweep& sweep) {
  return absl::StrCat(Finished(sweep.counts()), " / ", sweep.counts().total());
}

std::string TaskWhat(const farm::v1::Task& task) {
  std::string what = LowerEnumValueName(task.kind());
  if (task.kind() == farm::v1::STEP_KIND_BENCHMARK) {
    absl::StrAppend(&what, " ", LowerEnumValueName(task.mode()));
  } else if (task.kind() == farm::v1::STEP_KIND_BOOT) {
    absl::StrAppend(&what, " ", LowerEnumValueName(task.boot().accel()), " x",
                    task.boot().vm_count());
  }
  return what;
}

// Each device's share of the sweep: its finished tasks of all its tasks.
std::map<std::string, std::pair<int64_t, int64_t>> PerDevice(const farm::v1::Sweep& sweep) {
  std::map<std::string, std::pair<int64_t, int64_t>> share;
  for (const std::string& id : sweep.device_ids()) share[id];
  for (const farm::v1::Task& task : sweep.tasks()) {
    auto& [done, total] = share[task.device_id()];
    ++total;
    if (TaskDone(task.state())) ++done;
  }
  return share;
}

}  // namespace

std::string SweepsPage(const Frame& frame, const farm::v1::ListSweepsResponse& sweeps) {
  std::string body = "<h1>Sweeps</h1>" + StartSweepForm(frame);
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Sweep& s : sweeps.sweeps()) {
    rows.push_back({SweepLink(s.sweep_id()), StateBadge(s.state()), Esc(When(s.created_at())),
                    Esc(s.started_by()), absl::StrCat(s.device_ids_size()), Progress(s),
                    Esc(s.spec().description())});
  }
  body += Table({"SWEEP", "STATE", "CREATED", "STARTED BY", "DEVICES", "TASKS DONE", "DESCRIPTION"},
                rows, "sweeps");
  if (rows.empty()) body += "<p class=\"muted\">No sweep yet.</p>";
  if (!sweeps.next_page_token().empty()) {
    body += "<p>" + Link("/sweeps?page_token=" + UrlEncode(sweeps.next_page_token()), "Older →") +
            "</p>";
  }
  return Layout(frame, body);
}

std::string SweepPage(const Frame& frame, const farm::v1::Sweep& sweep) {
  const std::string id = sweep.sweep_id();
  std::string body = absl::StrCat(
      "<div data-live-sweep=\"/sweeps/", Esc(UrlEncode(id)), "/progress.json\" data-finished=\"",
      SweepFinished(sweep.state()) ? "true" : "false", "\"><h1>Sweep ", Esc(id), " ",
      StateBadge(sweep.state(), "sweep-state"), "</h1><p class=\"muted\">Started by ",
      Esc(sweep.started_by()), " at ", Esc(When(sweep.created_at())));
  if (!sweep.cancelled_by().empty()) {
    absl::StrAppend(&body, "; cancelled by ", Esc(sweep.cancelled_by()), ": ", Esc(sweep.reason()));
  }
  absl::StrAppend(
      &body, ". <span id=\"sweep-eta\">",
      sweep.has_eta() && !SweepFinished(sweep.state()) ? "ETA " + Duration(sweep.eta()) : "",
      "</span></p><div class=\"panel\"><h2>Overall</h2>",
      ProgressBar("bar-overall", Finished(sweep.counts()), sweep.counts().total()));
  if (frame.role >= auth::Role::kOperator && !SweepFinished(sweep.state())) {
    absl::StrAppend(&body,
                    "<form class=\"inline\" id=\"cancel-form\" method=\"post\" action=\"/sweeps/",
                    Esc(UrlEncode(id)), "/cancel\">", CsrfField(frame),
                    "<label>Reason<input name=\"reason\" maxlength=\"500\"></label>"
                    "<button class=\"danger\" id=\"cancel\">Cancel sweep</button></form>");
  }
  body += "</div><div class=\"panel\"><h2>Devices</h2>";
  std::vector<std::vector<std::string>> device_rows;
  for (const auto& [device, share] : PerDevice(sweep)) {
    device_rows.push_back(
        {DeviceLink(device), ProgressBar("bar-dev-" + device, share.first, share.second)});
  }
  body += Table({"DEVICE", "TASKS DONE"}, device_rows, "sweep-devices") + "</div>";
  std::vector<std::vector<std::string>> task_rows;
  for (const farm::v1::Task& t : sweep.tasks()) {
    task_rows.push_back(
        {absl::StrCat("<span id=\"task-", Esc(t.task_id()), "\"></span>", Esc(t.task_id())),
         DeviceLink(t.device_id()), Esc(TaskWhat(t)),
         absl::StrCat("<span class=\"badge task-state s-", LowerEnumValueName(t.state()), "\">",
                      LowerEnumValueName(t.state()), "</span>"),
         absl::StrCat("<span class=\"task-attempts\">", t.attempts(), "</span>"),
         absl::StrCat("<span class=\"task-status\">", Esc(t.status()), "</span>"),
         Link("/tasks/" + UrlEncode(t.task_id()) + "/logs", "logs")});
  }
  body += "<div class=\"panel\"><h2>Tasks</h2>" +
          Table({"TASK", "DEVICE", "STEP", "STATE", "ATTEMPTS", "STATUS", ""}, task_rows, "tasks") +
          "</div></div>";
  return Layout(frame, body);
}

absl::StatusOr<std::string> SweepProgressJson(const farm::v1::Sweep& sweep) {
  google::protobuf::Struct out;
  auto& fields = *out.mutable_fields();
  fields["state"].set_string_value(LowerEnumValueName(sweep.state()));
  fields["finished"].set_bool_value(SweepFinished(sweep.state()));
  fields["eta"].set_string_value(
      sweep.has_eta() && !SweepFinished(sweep.state()) ? Duration(sweep.eta()) : "");
  fields["done"].set_number_value(static_cast<double>(Finished(sweep.counts())));
  fields["total"].set_number_value(sweep.counts().total());
  google::protobuf::ListValue* devices = fields["devices"].mutable_list_value();
  for (const auto& [device, share] : PerDevice(sweep)) {
    auto& d = *devices->add_values()->mutable_struct_value()->mutable_fields();
    d["id"].set_string_value(device);
    d["done"].set_number_value(static_cast<double>(share.first));
    d["total"].set_number_value(static_cast<double>(share.second));
  }
  google::protobuf::ListValue* tasks = fields["tasks"].mutable_list_value();
  for (const farm::v1::Task& task : sweep.tasks()) {
    auto& t = *tasks->add_values()->mutable_struct_value()->mutable_fields();
    t["id"].set_string_value(task.task_id());
    t["state"].set_string_value(LowerEnumValueName(task.state()));
    t["attempts"].set_number_value(task.attempts());
    t["status"].set_string_value(task.status());
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(out, &json).ok()) {
    return absl::InternalError(
        absl::StrCat("sweep ", sweep.sweep_id(), ": its progress can't be written as JSON"));
  }
  return json;
}

std::string TaskLogsPage(const Frame& frame, const farm::v1::GetTaskLogsResponse& logs) {
  std::string body = absl::StrCat("<h1>Task ", Esc(logs.task_id()), "</h1>");
  if (logs.attempts().empty()) body += "<p class=\"muted\">No attempt yet.</p>";
  for (const farm::v1::AttemptLog& a : logs.attempts()) {
    absl::StrAppend(&body, "<div class=\"panel attempt\"><h2>Attempt ", Esc(a.attempt_id()),
                    "</h2><p>", Esc(When(a.started_at())), " · ", Esc(a.outcome()), "</p>");
    if (!a.console_log().empty()) {
      absl::StrAppend(&body, "<details><summary>Console</summary><pre>", Esc(a.console_log()),
                      "</pre></details>");
    }
    if (!a.raw_result_json().empty()) {
      absl::StrAppend(&body, "<details><summary>Result (JSON)</summary><pre>",
                      Esc(a.raw_result_json()), "</pre></details>");
    }
    body += "</div>";
  }
  return Layout(frame, body);
}

}  // namespace kvmfarm::dashboard
