// A lab moved for real: a SQLite lab served by a farm-controller process, moved
// into PostgreSQL with `farm-controller move`, backed up with `farm-controller
// backup` and restored into a new database with `farm-controller restore`; each
// time a farm-controller serving the result answers GetMatrix, CompareSweeps,
// GetSweep and GetDeviceHistory over mutual TLS exactly as the SQLite one did.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/tls/testing/test_lab.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/testing/postgres_server.h"
#include "controller/store/testing/sample_lab.h"
#include "farm/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::kvmfarm::testing::Concat;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;

// What operators read from a lab, each answer as the served controller gives it.
struct Answers {
  std::vector<farm::v1::GetMatrixResponse> matrices;  // by device, by model
  std::vector<farm::v1::CompareSweepsResponse> comparisons;
  farm::v1::GetSweepResponse sweep;
  farm::v1::GetDeviceHistoryResponse history;
};

class LabMoveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(kvmfarm::testing::FreshTestDir("-lab"));
    absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> started =
        store::testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    ASSERT_THAT(started, IsOk());
    postgres_ = *std::move(started);
  }

  // farm-controller on `db` (devices are never heard from: a long interval keeps
  // their state as stored while the test reads).
  Answers Serve(const std::string& db) {
    ServerProcess controller(
        Runfile("controller/farm-controller"), "farm-controller",
        Concat({"--db", db, "--heartbeat-interval=1h"}, lab_->ControllerFlags()));
    const std::string address = controller.WaitUntilListening();
    EXPECT_FALSE(address.empty()) << controller.Log();
    auto stub = farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(address, lab_->OperatorCredentials(lab_->Token("admin", "admin"))));
    Answers answers;
    for (farm::v1::GroupBy group_by : {farm::v1::GROUP_BY_DEVICE, farm::v1::GROUP_BY_MODEL}) {
      grpc::ClientContext context;
      farm::v1::GetMatrixRequest request;
      request.set_group_by(group_by);
      farm::v1::GetMatrixResponse response;
      EXPECT_TRUE(stub->GetMatrix(&context, request, &response).ok());
      response.clear_generated_at();  // the moment asked, not the lab
      answers.matrices.push_back(response);
    }
    for (const auto& [a, b] : {std::pair{"sweep-0", "sweep-1"}, {"sweep-1", "sweep-2"}}) {
      grpc::ClientContext context;
      farm::v1::CompareSweepsRequest request;
      request.set_sweep_a(a);
      request.set_sweep_b(b);
      farm::v1::CompareSweepsResponse response;
      EXPECT_TRUE(stub->CompareSweeps(&context, request, &response).ok());
      answers.comparisons.push_back(response);
    }
    grpc::ClientContext sweep_context;
    farm::v1::GetSweepRequest sweep;
    sweep.set_sweep_id("sweep-1");
    sweep.set_include_results(true);
    EXPECT_TRUE(stub->GetSweep(&sweep_context, sweep, &answers.sweep).ok());
    grpc::ClientContext history_context;
    farm::v1::GetDeviceHistoryRequest history;
    history.set_device_id("sdm-1");
    EXPECT_TRUE(stub->GetDeviceHistory(&history_context, history, &answers.history).ok());
    return answers;
  }

  static void ExpectSame(const Answers& before, const Answers& after) {
    ASSERT_EQ(after.matrices.size(), before.matrices.size());
    for (size_t i = 0; i < before.matrices.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(after.matrices[i], before.matrices[i]))
          << "GetMatrix " << i << ":\n"
          << after.matrices[i].DebugString() << "\nbefore:\n"
          << before.matrices[i].DebugString();
    }
    for (size_t i = 0; i < before.comparisons.size(); ++i) {
      EXPECT_TRUE(MessageDifferencer::Equals(after.comparisons[i], before.comparisons[i]))
          << "CompareSweeps " << i;
    }
    EXPECT_TRUE(MessageDifferencer::Equals(after.sweep, before.sweep));
    EXPECT_TRUE(MessageDifferencer::Equals(after.history, before.history));
  }

  ProcessResult FarmController(const std::vector<std::string>& args) {
    return testing::RunBinary(Runfile("controller/farm-controller"), args);
  }

  std::unique_ptr<TestLab> lab_;
  std::unique_ptr<store::testing::PostgresServer> postgres_;
};

TEST_F(LabMoveTest, ALabMovedToPostgresqlAndRestoredFromItsBackupAnswersAsBefore) {
  const std::string sqlite = kvmfarm::testing::FreshTestPath(".db");
  {
    absl::StatusOr<std::unique_ptr<store::SqliteStore>> lab = store::SqliteStore::Open(sqlite);
    ASSERT_THAT(lab, IsOk());
    ASSERT_THAT(store::testing::FillSampleLab(**lab), IsOk());
  }
  const Answers before = Serve(sqlite);
  ASSERT_EQ(before.matrices[0].rows_size(), 3);
  ASSERT_GT(before.comparisons[1].changes_size(), 0);
  ASSERT_EQ(before.sweep.sweep().tasks_size(), 6);

  ASSERT_THAT(postgres_->CreateDatabase("farm"), IsOk());
  const std::string moved = postgres_->Uri("farm");
  const ProcessResult move = FarmController({"move", "--from", sqlite, "--db", moved});
  ASSERT_EQ(move.exit_code, 0) << move.stdout_data << move.stderr_data;
  EXPECT_THAT(move.stdout_data, HasSubstr("  measurements: 54 of 54 rows"));
  EXPECT_THAT(move.stdout_data, HasSubstr("answer identically"));
  ExpectSame(before, Serve(moved));

  const std::string dump = kvmfarm::testing::FreshTestPath(".dump");
  const ProcessResult backup = FarmController({"backup", "--db", moved, "--to", dump});
  ASSERT_EQ(backup.exit_code, 0) << backup.stderr_data;
  ASSERT_THAT(postgres_->CreateDatabase("restored"), IsOk());
  const std::string restored = postgres_->Uri("restored");
  const ProcessResult restore = FarmController({"restore", "--from", dump, "--db", restored});
  ASSERT_EQ(restore.exit_code, 0) << restore.stderr_data;
  EXPECT_THAT(restore.stdout_data, HasSubstr("3 devices, 54 raw measurements"));
  ExpectSame(before, Serve(restored));

  // Moving again into a database that holds a lab is refused, and says why.
  const ProcessResult again = FarmController({"move", "--from", sqlite, "--db", moved});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.stderr_data, HasSubstr("already holds a lab"));
}

}  // namespace
}  // namespace kvmfarm
