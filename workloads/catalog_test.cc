#include "workloads/catalog.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workloads/workload.h"

namespace kvmfarm::workloads {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

farm::v1::WorkloadSpec Named(const std::string& name) {
  farm::v1::WorkloadSpec spec;
  spec.set_name(name);
  return spec;
}

TEST(WorkloadCatalogTest, NamesInFarmWorkloadsOrder) {
  EXPECT_THAT(AllWorkloadNames(), ElementsAre("crypto", "integer", "float", "mem_read", "mem_write",
                                              "mem_random", "io"));
  EXPECT_EQ(FindWorkload("mem_random")->name, "mem_random");
  EXPECT_EQ(FindWorkload("gpu"), nullptr);
}

TEST(WorkloadCatalogTest, DefaultsAndQuickValuesAreInRange) {
  for (const WorkloadInfo& info : WorkloadCatalog()) {
    EXPECT_FALSE(info.metrics.empty()) << info.name;
    EXPECT_TRUE(info.size_bytes.has_value() || info.iterations.has_value()) << info.name;
    for (const auto* parameter : {&info.size_bytes, &info.iterations}) {
      if (!parameter->has_value()) continue;
      const ParameterInfo& p = **parameter;
      EXPECT_LE(p.min, p.default_value) << info.name;
      EXPECT_LE(p.default_value, p.max) << info.name;
      EXPECT_LE(p.min, p.quick) << info.name;
      EXPECT_LE(p.quick, p.default_value) << info.name;
    }
  }
}

// Every catalog entry has a kernel, whose name, metrics and parameters are the
// catalog's: the controller checks against one and the agent runs the other.
TEST(WorkloadCatalogTest, EveryEntryMakesTheWorkloadItDescribes) {
  for (const WorkloadInfo& info : WorkloadCatalog()) {
    for (const farm::v1::WorkloadSpec& spec : {Named(info.name), QuickWorkloadSpec(info.name)}) {
      absl::StatusOr<std::unique_ptr<Workload>> workload = MakeWorkload(spec);
      ASSERT_THAT(workload, IsOk()) << info.name;
      EXPECT_EQ((*workload)->name(), info.name);
      EXPECT_EQ(&(*workload)->metrics(), &info.metrics) << info.name;
      absl::StatusOr<WorkloadParameters> resolved = ResolveWorkloadSpec(spec);
      ASSERT_THAT(resolved, IsOk());
      const std::map<std::string, std::string> parameters = (*workload)->parameters();
      if (info.size_bytes.has_value()) {
        EXPECT_EQ(parameters.at("size_bytes"), absl::StrCat(resolved->size_bytes)) << info.name;
      }
      if (info.iterations.has_value()) {
        EXPECT_EQ(parameters.at("iterations"), absl::StrCat(resolved->iterations)) << info.name;
      }
    }
  }
}

// What a kernel measures is what the catalog says it reports: one repetition at the
// smallest sizes gives a sample for every catalog metric and for nothing else.
TEST(WorkloadCatalogTest, EveryKernelReportsExactlyTheCatalogsMetrics) {
  SetIoDirectory(kvmfarm::testing::TestTmpDir());
  for (const WorkloadInfo& info : WorkloadCatalog()) {
    farm::v1::WorkloadSpec spec = Named(info.name);
    if (info.size_bytes) spec.set_size_bytes(info.size_bytes->min);
    if (info.iterations) spec.set_iterations(info.iterations->min);
    absl::StatusOr<std::unique_ptr<Workload>> workload = MakeWorkload(spec);
    ASSERT_THAT(workload, IsOk()) << info.name;
    const absl::Status prepared = (*workload)->Prepare();
    if (info.name == "io" && absl::IsFailedPrecondition(prepared))
      continue;  // TEST_TMPDIR on tmpfs
    ASSERT_THAT(prepared, IsOk()) << info.name;
    absl::StatusOr<std::vector<Sample>> samples = (*workload)->RunOnce();
    ASSERT_THAT(samples, IsOk()) << info.name;
    std::vector<std::string> sampled;
    for (const Sample& sample : *samples) sampled.push_back(sample.metric);
    std::vector<std::string> listed;
    for (const MetricInfo& metric : info.metrics) listed.push_back(metric.key);
    EXPECT_THAT(sampled, UnorderedElementsAreArray(listed)) << info.name;
  }
}

TEST(ResolveWorkloadSpecTest, DefaultsFilledIn) {
  absl::StatusOr<WorkloadParameters> p = ResolveWorkloadSpec(Named("mem_random"));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->size_bytes, 256u << 20);
  EXPECT_EQ(p->iterations, 20000000u);
  p = ResolveWorkloadSpec(Named("integer"));
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->size_bytes, 0u);  // integer takes no size
  EXPECT_EQ(p->iterations, 80u);
}

TEST(ResolveWorkloadSpecTest, UnknownNamesAndOutOfRangeValuesAreRefused) {
  EXPECT_THAT(ValidateWorkloadSpec(Named("gpu")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unknown workload 'gpu' (known: crypto, integer, float, mem_read, "
                       "mem_write, mem_random, io)"));
  farm::v1::WorkloadSpec spec = Named("mem_read");
  spec.set_size_bytes(1024);
  EXPECT_THAT(ValidateWorkloadSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "mem_read: size_bytes 1024 is outside 1048576..68719476736"));
  spec = Named("integer");
  spec.set_iterations(0);
  EXPECT_THAT(ValidateWorkloadSpec(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("iterations 0 is outside")));
}

TEST(ResolveWorkloadSpecTest, AParameterTheWorkloadDoesNotTakeIsIgnored) {
  farm::v1::WorkloadSpec spec = Named("crypto");
  spec.set_iterations(0);
  EXPECT_THAT(ValidateWorkloadSpec(spec), IsOk());
}

TEST(DefaultSweepWorkloadsTest, EveryWorkloadButTheOneNeedingAGuestDisk) {
  EXPECT_EQ(DefaultSweepWorkloads(), "crypto,integer,float,mem_read,mem_write,mem_random");
}

TEST(QuickWorkloadSpecTest, SizesAnOperatorWatches) {
  EXPECT_EQ(QuickWorkloadSpec("crypto").size_bytes(), 16u << 20);
  EXPECT_FALSE(QuickWorkloadSpec("crypto").has_iterations());
  EXPECT_EQ(QuickWorkloadSpec("integer").iterations(), 8u);
  EXPECT_EQ(QuickWorkloadSpec("float").iterations(), 2500000u);
  EXPECT_EQ(QuickWorkloadSpec("mem_write").size_bytes(), 64u << 20);
  EXPECT_EQ(QuickWorkloadSpec("mem_write").iterations(), 3u);
  EXPECT_EQ(QuickWorkloadSpec("mem_random").iterations(), 2000000u);
  EXPECT_EQ(QuickWorkloadSpec("io").size_bytes(), 64u << 20);
  const farm::v1::WorkloadSpec unknown = QuickWorkloadSpec("gpu");
  EXPECT_EQ(unknown.name(), "gpu");
  EXPECT_FALSE(unknown.has_size_bytes());
  EXPECT_FALSE(unknown.has_iterations());
}

}  // namespace
}  // namespace kvmfarm::workloads
