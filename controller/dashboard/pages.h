// -----------------------------------------------------------------------------
// File: pages.h
// -----------------------------------------------------------------------------
//
// The dashboard's pages as HTML: pure functions of what ControllerApi returned,
// so they are tested without a server. Server-rendered and readable without
// JavaScript; one stylesheet (/static/dashboard.css) and one small script
// (/static/live.js, the live sweep page). Every text from the database or the wire
// is escaped; every link's path parameter is URL-encoded.
#ifndef KVMFARM_CONTROLLER_DASHBOARD_PAGES_H_
#define KVMFARM_CONTROLLER_DASHBOARD_PAGES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "controller/auth/access_file.h"
#include "controller/fleet/fleet.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::dashboard {

// Who is looking, and what every page around the content needs.
struct Frame {
  std::string title;
  // The navigation entry to highlight: "fleet", "sweeps", "matrix", "compare".
  std::string section;
  // "alice (token), operator"; empty on the sign-in page.
  std::string who;
  auth::Role role = auth::Role::kViewer;
  // Who, as the audit trail names them ("alice (token)").
  std::string audit;
  // The CSRF token this viewer's forms carry.
  std::string csrf;
  // "leader c1 (epoch 3) · this is c2".
  std::string replicas;
  absl::Time now;
};

std::string SignInPage(absl::string_view message, absl::string_view next);
// A page saying what went wrong (a 4xx or 5xx), with the way back.
std::string ErrorPage(const Frame& frame, int status, absl::string_view message);

struct FleetView {
  fleet::FleetCensus census;
  std::vector<farm::v1::Device> devices;
  std::string selector;  // as typed
  std::string next_page_token;
  farm::v1::ListControllersResponse controllers;
};
std::string FleetPage(const Frame& frame, const FleetView& view);

struct DeviceView {
  farm::v1::Device device;
  std::vector<farm::v1::DeviceEvent> history;   // newest first
  std::vector<store::StoredSummary> summaries;  // newest first
  // The device's row of the matrix (its latest figures), if it has one.
  std::optional<farm::v1::MatrixRow> row;
};
std::string DevicePage(const Frame& frame, const DeviceView& view);

std::string SweepsPage(const Frame& frame, const farm::v1::ListSweepsResponse& sweeps);
std::string SweepPage(const Frame& frame, const farm::v1::Sweep& sweep);
// What the live sweep page polls: the state, the bars and each task, as JSON;
// INTERNAL when it can't be printed (text that isn't UTF-8).
absl::StatusOr<std::string> SweepProgressJson(const farm::v1::Sweep& sweep);
std::string TaskLogsPage(const Frame& frame, const farm::v1::GetTaskLogsResponse& logs);

struct MatrixView {
  farm::v1::GetMatrixResponse matrix;
  farm::v1::GroupBy group_by = farm::v1::GROUP_BY_DEVICE;
  std::string selector;
  // By device the matrix is shown a page of devices at a time (ListDevices'
  // paging); the token of the next page, "" on the last.
  std::string next_page_token;
};
// Devices per page of the matrix by device.
inline constexpr int kMatrixPageDevices = 200;
std::string MatrixPage(const Frame& frame, const MatrixView& view);

struct CompareView {
  std::string sweep_a, sweep_b;
  // Empty until both sweeps are given.
  std::optional<farm::v1::CompareSweepsResponse> comparison;
  std::vector<farm::v1::Sweep> recent;  // to choose from
};
std::string ComparePage(const Frame& frame, const CompareView& view);

struct RegressionsView {
  bool open_only = false;
  farm::v1::ListRegressionsResponse regressions;
  farm::v1::ListBaselinesResponse baselines;
};
// Regressions against baselines, newest first, each with its latest evidence, and
// the baselines they are held to.
std::string RegressionsPage(const Frame& frame, const RegressionsView& view);

// The stylesheet and the live script, served under /static/.
absl::string_view Stylesheet();
absl::string_view LiveScript();

// Query-string and path encoding for links.
std::string UrlEncode(absl::string_view text);

}  // namespace kvmfarm::dashboard

#endif  // KVMFARM_CONTROLLER_DASHBOARD_PAGES_H_
