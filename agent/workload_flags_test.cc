#include "agent/workload_flags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;

auto Flag(const std::string& name, const std::string& value) {
  return AllOf(Field(&WorkloadFlag::name, name), Field(&WorkloadFlag::value, value));
}

TEST(WorkloadFlagsTest, WorkloadsAndRepetitionsOnly) {
  farm::v1::RunBenchmarkRequest request;
  request.add_workloads()->set_name("crypto");
  request.add_workloads()->set_name("mem_read");
  request.set_repetitions(3);
  EXPECT_THAT(WorkloadFlags(request),
              ElementsAre(Flag("workloads", "crypto,mem_read"), Flag("repetitions", "3")));
}

TEST(WorkloadFlagsTest, OverridesOnlyForTheWorkloadsThatGiveThem) {
  farm::v1::RunBenchmarkRequest request;
  farm::v1::WorkloadSpec* crypto = request.add_workloads();
  crypto->set_name("crypto");
  crypto->set_size_bytes(1 << 20);
  request.add_workloads()->set_name("integer");
  farm::v1::WorkloadSpec* nbody = request.add_workloads();
  nbody->set_name("float");
  nbody->set_iterations(20000000);
  nbody->set_size_bytes(0);  // present though zero: passed on, farm-workload judges it
  EXPECT_THAT(
      WorkloadFlags(request),
      ElementsAre(Flag("workloads", "crypto,integer,float"), Flag("repetitions", "1"),
                  Flag("size", "crypto=1048576,float=0"), Flag("iterations", "float=20000000")));
}

}  // namespace
}  // namespace kvmfarm
