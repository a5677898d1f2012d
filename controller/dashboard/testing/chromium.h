// -----------------------------------------------------------------------------
// File: testing/chromium.h
// -----------------------------------------------------------------------------
//
// A real headless Chromium for tests of the dashboard: load a page, run JavaScript
// in it, wait for what its scripts do, and keep a screenshot of what it showed.
//
// Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// it reads JSON commands from its fd 3 and writes answers and events to its fd 4,
// each message ending in a NUL byte), so there is no port to pick and no WebSocket.
// Debian's `chromium` package provides the browser (tools/setup.sh installs it).
//
// Guarantees:
//  * Every wait has a deadline (ChromiumOptions::timeout, or the one given): a hung
//    or crashed browser fails the test with a message, never hangs it. When Chromium
//    exits, the error quotes the end of its log.
//  * Nothing is left behind: destruction closes the browser, waits for it (killing
//    its process group when it does not leave), and removes its profile directory
//    and the singleton-socket directory it keeps under TMPDIR (which a killed
//    browser would leave).
//    Chromium's crash handlers leave the process group (they start their own
//    session); they are waited for too. So that the browser's orphaned helpers are
//    reaped at once rather than whenever init gets to it, Start() makes the test
//    process a child subreaper (prctl PR_SET_CHILD_SUBREAPER); only the browser's own
//    process group and its crash handlers are reaped here.
//  * The browser's HOME is its temporary directory, so nothing it writes (crash
//    database, caches) lands in the user's home.
//
// Not thread-safe: one thread drives one Chromium. Events (page errors, load
// events) are read while a call waits, so PageErrors() is as recent as the last call.
//
// Example:
//
//   absl::StatusOr<std::unique_ptr<Chromium>> chromium = Chromium::Start();
//   ASSERT_THAT(chromium, IsOk());
//   Chromium& browser = **chromium;
//   ASSERT_THAT(browser.Navigate(dashboard_url), IsOk());
//   ASSERT_THAT(browser.WaitFor("document.querySelectorAll('tr.device').length == 2",
//                               absl::Seconds(10)), IsOk());
//   EXPECT_THAT(browser.Evaluate("document.title"), IsOkAndHolds("kvmfarm"));
//   EXPECT_THAT(browser.Screenshot(absl::StrCat(outputs_dir, "/devices.png")), IsOk());
#ifndef KVMFARM_CONTROLLER_DASHBOARD_TESTING_CHROMIUM_H_
#define KVMFARM_CONTROLLER_DASHBOARD_TESTING_CHROMIUM_H_

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Struct;
}  // namespace google::protobuf

namespace kvmfarm::dashboard::testing {

struct ChromiumOptions {
  // The browser: a path, or a name looked up in PATH.
  std::string binary = "chromium";
  // The page's viewport in CSS pixels (device scale factor 1).
  int width = 1280;
  int height = 900;
  // Appended to the command line, e.g. "--ignore-certificate-errors" for a
  // controller serving a test certificate.
  std::vector<std::string> extra_flags;
  // How long one step may take: starting up, one command, one page load.
  absl::Duration timeout = absl::Seconds(30);
};

// One headless Chromium with one page (tab), attached to over DevTools.
class Chromium {
 public:
  // Starts the browser (headless, no sandbox, no GPU, a fresh profile in a temporary
  // directory under TEST_TMPDIR, else TMPDIR or /tmp) and attaches to its page.
  // NOT_FOUND (naming tools/setup.sh) when the binary is missing; UNAVAILABLE when
  // it exits early; DEADLINE_EXCEEDED when it does not answer in time.
  static absl::StatusOr<std::unique_ptr<Chromium>> Start(ChromiumOptions options = {});

  // Closes the browser and removes its directory; see the guarantees above.
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // Loads `url` in the page and waits for its load event. UNAVAILABLE naming
  // Chromium's reason (e.g. "net::ERR_CONNECTION_REFUSED") when it can't be loaded;
  // a navigation within the same document (a #fragment) returns at once.
  absl::Status Navigate(const std::string& url);

  // Runs `js` (an expression; a promise is awaited) in the page and returns its
  // value as text: a string as it is, anything else as JSON (numbers, true, null,
  // {"a":1}; object keys may come back in another order), "undefined", or
  // Chromium's spelling of what JSON lacks (NaN, Infinity, -0, 10n).
  // INVALID_ARGUMENT with the exception ("Uncaught ReferenceError: x is not
  // defined") when it throws or the promise rejects.
  absl::StatusOr<std::string> Evaluate(const std::string& js);

  // Evaluates `js_condition` until it gives "true" (polling every 20 ms; exceptions
  // count as not yet true). DEADLINE_EXCEEDED after `timeout`, with the last value or
  // error. Each evaluation may take up to ChromiumOptions::timeout.
  absl::Status WaitFor(const std::string& js_condition, absl::Duration timeout);

  // Writes a PNG of the page to `png_path`: the whole page with `full_page`, else
  // the viewport.
  absl::Status Screenshot(const std::string& png_path, bool full_page = true);

  // Sets a cookie for `url` (e.g. a session for the dashboard) before navigating there.
  absl::Status SetCookie(const std::string& url, const std::string& name, const std::string& value);

  // Uncaught exceptions and console.error() messages of the page, oldest first.
  const std::vector<std::string>& PageErrors() const { return page_errors_; }

  // The browser process, which leads its own process group.
  pid_t pid() const { return pid_; }
  // The temporary directory (profile, HOME, log) removed on destruction.
  const std::string& directory() const { return directory_; }
  // The last lines of the browser's stdout and stderr (without D-Bus noise).
  std::string LogTail() const;

 private:
  enum class Target { kBrowser, kPage };

  explicit Chromium(ChromiumOptions options);
  absl::Status Launch();
  absl::Status AttachToPage(absl::Time deadline);

  // Sends `method` to the browser or the page and waits for its result.
  absl::StatusOr<google::protobuf::Struct> Call(absl::string_view method,
                                                const google::protobuf::Struct& params,
                                                Target target, absl::Time deadline);
  // Sends one message; `method` names it in errors.
  absl::Status Send(const std::string& json, absl::string_view method, absl::Time deadline);
  // The next message from the browser, parsed; errors name what was `waiting_for`
  // since `start`.
  absl::StatusOr<google::protobuf::Struct> NextMessage(absl::string_view waiting_for,
                                                       absl::Time start, absl::Time deadline);
  // Notes what matters of an event: page loads, errors, the page going away.
  void HandleEvent(const google::protobuf::Struct& event);
  // The error for a pipe that broke `while` doing something; remembered, since
  // every later call fails the same way.
  absl::Status BrowserGone(absl::string_view while_doing);
  // Reaps the browser if it has exited; true when it has.
  bool ReapBrowser();
  void Shutdown();

  ChromiumOptions options_;
  std::string directory_;
  std::string program_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  int command_fd_ = -1;  // our end of the browser's fd 3
  int event_fd_ = -1;    // our end of the browser's fd 4
  std::string read_buffer_;
  size_t scanned_ = 0;  // read_buffer_'s bytes known to hold no NUL
  int next_id_ = 1;
  std::string session_id_;
  absl::Status transport_status_;  // not OK once the pipe broke
  absl::Status page_status_;       // not OK once the page crashed or went away
  std::set<std::string> loaded_;   // loaderIds whose load event came
  std::vector<std::string> page_errors_;
};

}  // namespace kvmfarm::dashboard::testing

#endif  // KVMFARM_CONTROLLER_DASHBOARD_TESTING_CHROMIUM_H_
