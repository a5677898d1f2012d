#include "controller/dashboard/testing/chromium.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/testing/run_binary.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::dashboard::testing {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::StatusIs;
using ::kvmfarm::testing::TestTmpDir;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The browser these tests drive, from Debian's chromium package.
constexpr char kChromium[] = "/usr/bin/chromium";

// Starts the system's Chromium. A machine without it fails the test (rather than
// skipping it), saying how to install it.
std::unique_ptr<Chromium> StartChromium() {
  if (::access(kChromium, X_OK) != 0) {
    ADD_FAILURE() << kChromium << " is not installed: run tools/setup.sh";
    return nullptr;
  }
  ChromiumOptions options;
  options.binary = kChromium;
  absl::StatusOr<std::unique_ptr<Chromium>> chromium = Chromium::Start(options);
  EXPECT_THAT(chromium, IsOk());
  return chromium.ok() ? std::move(*chromium) : nullptr;
}

std::string DataUrl(absl::string_view html) {
  return absl::StrCat("data:text/html;base64,", absl::Base64Escape(html));
}

// Where a test leaves files for people to look at: Bazel's undeclared outputs.
std::string OutputsDir() {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : TestTmpDir();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The width and height in a PNG's header chunk (IHDR), {0, 0} when too short.
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  if (png.size() < 24) return {0, 0};
  auto big_endian = [&png](size_t at) {
    uint32_t value = 0;
    for (size_t i = at; i < at + 4; ++i) value = value << 8 | static_cast<unsigned char>(png[i]);
    return value;
  };
  return {big_endian(16), big_endian(20)};
}

bool ProcessGroupGone(pid_t group) { return ::kill(-group, 0) != 0 && errno == ESRCH; }

// Chromium's temporary directories in the scratch root (TEST_TMPDIR).
std::vector<std::string> ChromiumDirectories() {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(TestTmpDir(), error)) {
    if (absl::StartsWith(entry.path().filename().string(), "chromium.")) {
      found.push_back(entry.path());
    }
  }
  return found;
}

// An HTTP server on 127.0.0.1 whose one page shows the request's Cookie header.
class CookieEchoServer {
 public:
  CookieEchoServer() {
    server_.Get("/", [](const httplib::Request& request, httplib::Response& response) {
      response.set_content(request.get_header_value("Cookie"), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    serving_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~CookieEchoServer() {
    server_.stop();
    serving_.join();
  }

  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_, "/"); }

 private:
  httplib::Server server_;
  int port_ = -1;
  std::thread serving_;
};

// A page taller than the viewport whose script changes its heading 300 ms after
// it loaded.
constexpr char kScriptedPage[] = R"html(<!DOCTYPE html>
<title>Chromium test</title>
<h1 id="status">Waiting</h1>
<div style="height: 2000px; background: linear-gradient(#fff, #36c)"></div>
<script>
  setTimeout(() => { document.getElementById('status').textContent = 'Ready'; }, 300);
</script>
)html";

TEST(ChromiumTest, LoadsRunsWaitsForAndScreenshotsAPage) {
  std::unique_ptr<Chromium> chromium = StartChromium();
  ASSERT_NE(chromium, nullptr);
  const pid_t group = chromium->pid();
  const std::string directory = chromium->directory();
  EXPECT_TRUE(std::filesystem::is_directory(directory));

  ASSERT_THAT(chromium->Navigate(DataUrl(kScriptedPage)), IsOk());
  EXPECT_THAT(chromium->Evaluate("document.title"), IsOkAndHolds("Chromium test"));
  EXPECT_THAT(chromium->Evaluate("document.getElementById('status').textContent"),
              IsOkAndHolds("Waiting"));
  ASSERT_THAT(chromium->WaitFor("document.getElementById('status').textContent === 'Ready'",
                                absl::Seconds(10)),
              IsOk());
  EXPECT_THAT(chromium->Evaluate("innerWidth + 'x' + innerHeight"), IsOkAndHolds("1280x900"));

  const std::string page_png = absl::StrCat(OutputsDir(), "/chromium_test_page.png");
  ASSERT_THAT(chromium->Screenshot(page_png), IsOk());
  const std::string png = ReadFile(page_png);
  EXPECT_GT(png.size(), 1000u);
  EXPECT_TRUE(absl::StartsWith(png, "\x89PNG\r\n")) << absl::CHexEscape(png.substr(0, 8));
  const auto [width, height] = PngSize(png);
  EXPECT_EQ(width, 1280u);
  EXPECT_GT(height, 2000u) << "the whole page, not just the viewport";

  const std::string viewport_png = absl::StrCat(OutputsDir(), "/chromium_test_viewport.png");
  ASSERT_THAT(chromium->Screenshot(viewport_png, /*full_page=*/false), IsOk());
  EXPECT_EQ(PngSize(ReadFile(viewport_png)), std::make_pair(1280u, 900u));
  EXPECT_THAT(chromium->Evaluate("innerWidth + 'x' + innerHeight"), IsOkAndHolds("1280x900"));
  EXPECT_THAT(chromium->PageErrors(), IsEmpty());

  chromium.reset();
  EXPECT_TRUE(ProcessGroupGone(group)) << "processes of Chromium's group " << group << " remain";
  EXPECT_FALSE(std::filesystem::exists(directory)) << directory;
  EXPECT_THAT(ChromiumDirectories(), IsEmpty());
}

TEST(ChromiumTest, EvaluateGivesValuesAsTextAndExceptionsAsErrors) {
  std::unique_ptr<Chromium> chromium = StartChromium();
  ASSERT_NE(chromium, nullptr);
  EXPECT_THAT(chromium->Evaluate("6 * 7"), IsOkAndHolds("42"));
  EXPECT_THAT(chromium->Evaluate("1 / 4"), IsOkAndHolds("0.25"));
  EXPECT_THAT(chromium->Evaluate("1 / 0"), IsOkAndHolds("Infinity"));
  EXPECT_THAT(chromium->Evaluate("3 > 2"), IsOkAndHolds("true"));
  EXPECT_THAT(chromium->Evaluate("undefined"), IsOkAndHolds("undefined"));
  EXPECT_THAT(chromium->Evaluate("[1, 'two', null]"), IsOkAndHolds(R"([1,"two",null])"));
  EXPECT_THAT(chromium->Evaluate("({answer: 42})"), IsOkAndHolds(R"({"answer":42})"));
  // Quotes, backslashes, newlines and non-ASCII text survive both ways.
  EXPECT_THAT(chromium->Evaluate(R"('say "hi" \\ \n' + 'grüße')"),
              IsOkAndHolds("say \"hi\" \\ \ngrüße"));
  EXPECT_THAT(chromium->Evaluate("new Promise(resolve => setTimeout(() => resolve('later'), 50))"),
              IsOkAndHolds("later"));

  EXPECT_THAT(chromium->Evaluate("throw new Error('boom')"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Uncaught Error: boom")));
  EXPECT_THAT(chromium->Evaluate("Promise.reject(new Error('refused'))"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Error: refused")));
  EXPECT_THAT(chromium->Evaluate("noSuchThing.field"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ReferenceError: noSuchThing is not defined")));
  EXPECT_THAT(chromium->Evaluate("'still working'"), IsOkAndHolds("still working"));

  EXPECT_THAT(chromium->WaitFor("1 + 1 === 3", absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("last gave \"false\"")));
  // An exception means "not yet", until the time is up.
  EXPECT_THAT(chromium->WaitFor("missing.value === 1", absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("ReferenceError")));

  // The page's own errors are collected: console.error now, an exception in a timer
  // before the promise resolves.
  ASSERT_THAT(chromium->Evaluate("console.error('bad', 7);"
                                 "setTimeout(() => { throw new Error('late failure'); }, 0);"
                                 "new Promise(resolve => setTimeout(resolve, 100))"),
              IsOk());
  EXPECT_THAT(chromium->PageErrors(),
              ElementsAre("console.error: bad 7", HasSubstr("Uncaught Error: late failure")));
}

TEST(ChromiumTest, NavigateReportsPagesThatCannotLoad) {
  // A port bound but not listening refuses connections for as long as it is held.
  const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(socket, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(socket, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length), 0);

  std::unique_ptr<Chromium> chromium = StartChromium();
  ASSERT_NE(chromium, nullptr);
  EXPECT_THAT(chromium->Navigate(absl::StrCat("http://127.0.0.1:", ntohs(address.sin_port), "/")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("net::ERR_CONNECTION_REFUSED")));
  ::close(socket);
}

TEST(ChromiumTest, SendsItsCookiesToHttpPages) {
  CookieEchoServer server;
  std::unique_ptr<Chromium> chromium = StartChromium();
  ASSERT_NE(chromium, nullptr);
  ASSERT_THAT(chromium->SetCookie(server.url(), "session", "abc123"), IsOk());
  ASSERT_THAT(chromium->Navigate(server.url()), IsOk());
  EXPECT_THAT(chromium->Evaluate("document.body.innerText"), IsOkAndHolds("session=abc123"));
  // Within the document: no load event to wait for.
  ASSERT_THAT(chromium->Navigate(server.url() + "#devices"), IsOk());
  EXPECT_THAT(chromium->Evaluate("location.hash"), IsOkAndHolds("#devices"));
}

TEST(ChromiumTest, KilledBrowserIsReportedAndCleanedUp) {
  std::unique_ptr<Chromium> chromium = StartChromium();
  ASSERT_NE(chromium, nullptr);
  const pid_t group = chromium->pid();
  const std::string directory = chromium->directory();
  // Chromium's singleton socket lives outside its profile, under TMPDIR.
  std::error_code error;
  const std::filesystem::path singleton =
      std::filesystem::read_symlink(directory + "/profile/SingletonSocket", error);
  ASSERT_FALSE(error) << error.message();
  ASSERT_TRUE(std::filesystem::exists(singleton.parent_path())) << singleton;

  ASSERT_EQ(::kill(-group, SIGKILL), 0);
  EXPECT_THAT(chromium->Evaluate("1"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("was killed by signal 9")));
  EXPECT_THAT(chromium->Evaluate("2"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("was killed by signal 9")));

  chromium.reset();
  EXPECT_TRUE(ProcessGroupGone(group));
  EXPECT_FALSE(std::filesystem::exists(directory)) << directory;
  EXPECT_FALSE(std::filesystem::exists(singleton.parent_path())) << singleton;
}

TEST(ChromiumTest, MissingBrowserNamesTheSetupScript) {
  ChromiumOptions options;
  options.binary = "/nonexistent/chromium";
  EXPECT_THAT(Chromium::Start(options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("tools/setup.sh")));
}

TEST(ChromiumTest, BrowserThatExitsIsReportedWithItsLog) {
  ChromiumOptions options;
  options.binary = Runfile("controller/dashboard/testing/testdata/fake_chromium.sh");
  options.extra_flags = {"--fake-exit"};
  EXPECT_THAT(Chromium::Start(options), StatusIs(absl::StatusCode::kUnavailable,
                                                 AllOf(HasSubstr("exited with status 3"),
                                                       HasSubstr("fake chromium: cannot start"))));
  EXPECT_THAT(ChromiumDirectories(), IsEmpty());
}

TEST(ChromiumTest, SilentBrowserTimesOutAndIsKilled) {
  const std::string pid_file = absl::StrCat(TestTmpDir(), "/fake_chromium.pid");
  ASSERT_EQ(::setenv("FAKE_CHROMIUM_PID_FILE", pid_file.c_str(), 1), 0);
  ChromiumOptions options;
  options.binary = Runfile("controller/dashboard/testing/testdata/fake_chromium.sh");
  options.timeout = absl::Seconds(1);
  EXPECT_THAT(Chromium::Start(options),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("Target.getTargets"), HasSubstr("fake chromium: hanging"))));
  ::unsetenv("FAKE_CHROMIUM_PID_FILE");
  pid_t group = 0;
  ASSERT_TRUE(absl::SimpleAtoi(ReadFile(pid_file), &group)) << ReadFile(pid_file);
  EXPECT_TRUE(ProcessGroupGone(group));
  EXPECT_THAT(ChromiumDirectories(), IsEmpty());
}

}  // namespace
}  // namespace kvmfarm::dashboard::testing
