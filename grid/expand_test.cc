
#include <algorithm>
#include <dirent.h>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "common/version.h"
#include "grid/grid.h"
#include "grid/keys.h"
#include "grid/test_util.h"

namespace llmq {
namespace {

using testing_util::Describe;
using testing_util::FakeIdentities;
using testing_util::MustExpand;
using testing_util::MustParse;

constexpr char kCounts[] = R"(
name: counts
models:
  - {name: a, path: models/a}
  - {name: b, path: models/b}
methods:
  - none                          # 1
  - name: rtn                     # 2 x 3 = 6
    bits: [4, 3]
    group_size: [-1, 32, 16]
  - name: gptq                    # 2 x 2 x 2 = 8
    bits: [4, 3]
    group_size: [16, 64]
    act_order: [false, true]
tasks:                            # 3
  - {name: ppl, context: 512}
  - {name: boolq, limit: 10}
  - efficiency
)";

TEST(GridExpandTest, CountsAreTheCrossProduct) {
  // 2 models x (1 + 2x3 + 2x2x2) variants x 3 tasks.
  EXPECT_EQ(MustExpand(kCounts).size(), 2u * (1 + 2 * 3 + 2 * 2 * 2) * 3);
}

TEST(GridExpandTest, ExcludeRemovesMatchingJobs) {
  const std::string yaml = std::string(kCounts) + R"(
exclude:
  - {method: none, task: efficiency}           # 2 models x 1 = 2 jobs
  - {method: gptq, bits: 3, act_order: true}   # 2 models x 2 group sizes x 3 tasks = 12
)";
  const std::vector<v1::JobSpec> jobs = MustExpand(yaml);
  EXPECT_EQ(jobs.size(), 90u - 2 - 12);
  for (const v1::JobSpec& job : jobs) {
    EXPECT_FALSE(job.method().name() == "none" && job.task().name() == "efficiency");
    EXPECT_FALSE(job.method().name() == "gptq" && job.method().params().at("bits") == "3" &&
                 job.method().params().at("act_order") == "true");
  }
}

TEST(GridExpandTest, IncludeKeepsOnlyMatchingJobsThenExcludeApplies) {
  const std::string yaml = std::string(kCounts) + R"(
include:
  - {method: rtn, bits: 4}                  # 2 models x 3 group sizes x 3 tasks = 18
  - {method: none, model: a}                # 3
exclude:
  - {task: [boolq, efficiency], model: b}   # b's rtn: 3 group sizes x 2 tasks = 6
)";
  EXPECT_EQ(MustExpand(yaml).size(), 18u + 3 - 6);
}

TEST(GridExpandTest, FiltersMatchDefaultsAndCanonicalValues) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods:
  - rtn                                  # group_size 128 by default
  - {name: rtn, group_size: 64}
  - {name: gptq, damp: [0.01, 0.1]}
tasks: [ppl]
exclude:
  - {group_size: 128, method: rtn}       # the default is a value like any other
  - {damp: 0.010}                        # "0.010" is 0.01
)");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].method().params().at("group_size"), "64");
  EXPECT_EQ(jobs[1].method().params().at("damp"), "0.1");
}

TEST(GridExpandTest, QualifiedFilterKeysPickTheirSection) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods: [rtn, gptq]
calibration: {seed: [0, 1]}
tasks:
  - {name: boolq, seed: [1234, 1]}
exclude:
  - {calibration.seed: 1}     # gptq with calibration seed 1: 2 jobs
  - {task.seed: 1, method: rtn}
)");
  // rtn: 2 task seeds - 1; gptq: 2 calibration seeds x 2 task seeds - 2.
  EXPECT_EQ(jobs.size(), 1u + 2);
}

TEST(GridExpandTest, AxesVaryInFileOrderFirstSlowest) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods:
  - {name: rtn, bits: [4, 3], group_size: [-1, 32]}
  - {name: rtn, group_size: [16, 8], bits: [2, 5]}
tasks: [ppl]
)");
  std::vector<std::string> order;
  for (const v1::JobSpec& job : jobs) order.push_back(Describe(job, {"bits", "group_size"}));
  EXPECT_EQ(order, (std::vector<std::string>{
                       "x/rtn/ppl{bits=4,group_size=-1}/0", "x/rtn/ppl{bits=4,group_size=32}/0",
                       "x/rtn/ppl{bits=3,group_size=-1}/0", "x/rtn/ppl{bits=3,group_size=32}/0",
                       "x/rtn/ppl{bits=2,group_size=16}/0", "x/rtn/ppl{bits=5,group_size=16}/0",
                       "x/rtn/ppl{bits=2,group_size=8}/0", "x/rtn/ppl{bits=5,group_size=8}/0"}));
}

TEST(GridExpandTest, JobsNestModelsOutermostRepeatsInnermost) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/a, m/b]
methods: [none, rtn]
tasks: [ppl, boolq]
repeats: 2
)");
  ASSERT_EQ(jobs.size(), 16u);
  EXPECT_EQ(Describe(jobs[0]), "a/none/ppl/0");
  EXPECT_EQ(Describe(jobs[1]), "a/none/ppl/1");
  EXPECT_EQ(Describe(jobs[2]), "a/none/boolq/0");
  EXPECT_EQ(Describe(jobs[4]), "a/rtn/ppl/0");
  EXPECT_EQ(Describe(jobs[8]), "b/none/ppl/0");
  std::set<std::string> keys;
  for (const v1::JobSpec& job : jobs) keys.insert(job.job_key());
  EXPECT_EQ(keys.size(), 16u);  // repeats have their own keys
}

TEST(GridExpandTest, ZipPairsListsInsteadOfCrossingThem) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods:
  - name: gptq
    act_order: [false, true]
    bits: [4, 3, 2]
    group_size: [128, 64, 32]
tasks: [ppl]
zip:
  - [methods.gptq.bits, methods.gptq.group_size]
)");
  std::vector<std::string> order;
  for (const v1::JobSpec& job : jobs) {
    order.push_back(Describe(job, {"act_order", "bits", "group_size"}));
  }
  EXPECT_EQ(order, (std::vector<std::string>{
                       "x/gptq/ppl{act_order=false,bits=4,group_size=128}/0",
                       "x/gptq/ppl{act_order=false,bits=3,group_size=64}/0",
                       "x/gptq/ppl{act_order=false,bits=2,group_size=32}/0",
                       "x/gptq/ppl{act_order=true,bits=4,group_size=128}/0",
                       "x/gptq/ppl{act_order=true,bits=3,group_size=64}/0",
                       "x/gptq/ppl{act_order=true,bits=2,group_size=32}/0"}));
}

TEST(GridExpandTest, ZipWorksForTasksAndCalibration) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods: [gptq]
calibration: {samples: [32, 128], seq_len: [2048, 512]}
tasks:
  - {name: ppl, context: [512, 2048], limit: [100, 25]}
zip:
  - [calibration.samples, calibration.seq_len]
  - [tasks.ppl.context, tasks.ppl.limit]
)");
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].calibration().samples(), 32);
  EXPECT_EQ(jobs[0].calibration().seq_len(), 2048);
  EXPECT_EQ(jobs[0].task().params().at("limit"), "100");
  EXPECT_EQ(jobs[1].task().params().at("context"), "2048");
  EXPECT_EQ(jobs[1].task().params().at("limit"), "25");
  EXPECT_EQ(jobs[2].calibration().samples(), 128);
  EXPECT_EQ(jobs[2].calibration().seq_len(), 512);
}

TEST(GridExpandTest, CalibrationOnlyForMethodsThatCalibrate) {
  const std::string yaml = std::string(kCounts) + "calibration: {samples: [16, 32]}\n";
  const std::vector<v1::JobSpec> jobs = MustExpand(yaml);
  // gptq variants double with two calibration sizes; none and rtn do not.
  EXPECT_EQ(jobs.size(), 2u * (1 + 6 + 8 * 2) * 3);
  for (const v1::JobSpec& job : jobs) {
    const bool calibrates = job.method().name() == "gptq";
    EXPECT_EQ(job.has_calibration(), calibrates) << Describe(job);
    if (calibrates) {
      EXPECT_EQ(job.calibration().dataset(), "c4");
      EXPECT_EQ(job.calibration().seq_len(), 2048);
      EXPECT_EQ(job.calibration().mode(), "random");
    }
  }
}

TEST(GridExpandTest, DefaultsAreFilledIn) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods: [gptq]
tasks: [ppl, boolq, efficiency]
)");
  ASSERT_EQ(jobs.size(), 3u);
  const auto& gptq = jobs[0].method().params();
  EXPECT_EQ(gptq.at("bits"), "4");
  EXPECT_EQ(gptq.at("group_size"), "128");
  EXPECT_EQ(gptq.at("damp"), "0.01");
  EXPECT_EQ(gptq.at("true_sequential"), "true");
  EXPECT_EQ(gptq.at("block_size"), "128");
  EXPECT_EQ(gptq.at("keep"), "");
  EXPECT_EQ(gptq.at("overrides"), "");
  EXPECT_EQ(gptq.at("block"), "-1");
  EXPECT_EQ(gptq.count("scan"), 0u);  // an expansion directive, not a job parameter
  EXPECT_EQ(gptq.size(), 11u);
  const auto& ppl = jobs[0].task().params();
  EXPECT_EQ(ppl.at("dataset"), "wikitext2");
  EXPECT_EQ(ppl.at("format"), "text");
  EXPECT_EQ(ppl.at("protocol"), "windows");
  EXPECT_EQ(ppl.at("context"), "2048");
  EXPECT_EQ(ppl.count("stride"), 0u);  // windows only
  EXPECT_EQ(ppl.count("field"), 0u);   // jsonl only
  EXPECT_EQ(jobs[1].task().params().at("batch_size"), "8");
  EXPECT_EQ(jobs[2].task().params().at("prompt_lengths"), "128,512,2048");
}

TEST(GridExpandTest, PplDerivesFormatAndStride) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
tasks:
  - {name: ppl, dataset: [tinystories, c4, data/x.jsonl, data/x.txt]}
  - {name: ppl, protocol: rolling, context: 1001}
  - {name: ppl, protocol: rolling, context: 512, stride: 128}
)");
  ASSERT_EQ(jobs.size(), 6u);
  EXPECT_EQ(jobs[0].task().params().at("format"), "paragraphs");
  EXPECT_EQ(jobs[1].task().params().at("format"), "jsonl");
  EXPECT_EQ(jobs[1].task().params().at("field"), "text");
  EXPECT_EQ(jobs[2].task().params().at("format"), "jsonl");
  EXPECT_EQ(jobs[3].task().params().at("format"), "text");
  EXPECT_EQ(jobs[4].task().params().at("stride"), "500");
  EXPECT_EQ(jobs[5].task().params().at("stride"), "128");
}

TEST(GridExpandTest, JobFieldsComeFromTheGrid) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
name: fields
models: [{name: tiny, path: m/tiny, dtype: [float32, bf16]}]
tasks: [boolq]
timeout: 2h
max_attempts: 4
priority: 3
resources: {device: cuda, memory: 512MiB}
)");
  ASSERT_EQ(jobs.size(), 2u);
  const v1::JobSpec& job = jobs[1];
  EXPECT_EQ(job.sweep_name(), "fields");
  EXPECT_EQ(job.model().alias(), "tiny");
  EXPECT_EQ(job.model().path(), "m/tiny");
  EXPECT_EQ(job.model().dtype(), "bfloat16");
  EXPECT_EQ(job.model().identity().size(), 64u);
  EXPECT_EQ(job.method().name(), "none");
  EXPECT_TRUE(job.method().params().empty());
  EXPECT_EQ(job.timeout_seconds(), 7200);
  EXPECT_EQ(job.max_attempts(), 4);
  EXPECT_EQ(job.priority(), 3);
  EXPECT_EQ(job.resources().device(), "cuda");
  EXPECT_EQ(job.resources().memory_bytes(), 512LL << 20);
  EXPECT_EQ(job.result_version(), kResultVersion);
  EXPECT_EQ(job.job_key().size(), 64u);
  EXPECT_EQ(job.quant_key().size(), 64u);
  EXPECT_NE(jobs[0].job_key(), jobs[1].job_key());
}

TEST(GridExpandTest, DuplicateJobsKeepTheirFirstPlace) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods:
  - {name: rtn, bits: [4, 3]}
  - {name: rtn, bits: 4, group_size: 128}   # the same as rtn bits 4
  - {name: rtn, bits: 2}
tasks: [{name: boolq, batch_size: [8, 16]}]  # batch_size does not change results
)");
  std::vector<std::string> order;
  for (const v1::JobSpec& job : jobs) order.push_back(Describe(job, {"bits", "batch_size"}));
  EXPECT_EQ(order, (std::vector<std::string>{"x/rtn/boolq{bits=4,batch_size=8}/0",
                                             "x/rtn/boolq{bits=3,batch_size=8}/0",
                                             "x/rtn/boolq{bits=2,batch_size=8}/0"}));
}

TEST(GridExpandTest, SameInputSameOrderAndKeys) {
  const Grid grid = MustParse(kCounts);
  const PathIdentities identities = FakeIdentities(grid);
  const auto first = ExpandGrid(grid, identities);
  const auto second = ExpandGrid(MustParse(kCounts), identities);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->size(), second->size());
  for (size_t i = 0; i < first->size(); ++i) {
    EXPECT_EQ((*first)[i].job_key(), (*second)[i].job_key());
    EXPECT_EQ((*first)[i].quant_key(), (*second)[i].quant_key());
    EXPECT_EQ((*first)[i].SerializeAsString().size(), (*second)[i].SerializeAsString().size());
  }
}

// Three list axes: rtn bits (line 5), group_size (line 6), ppl limit (line 9).
constexpr char kThreeAxes[] = R"(
models: [m/x]
methods:
  - name: rtn
    bits: [2, 3, 4]
    group_size: [16, 32, 64, 128]
tasks:
  - name: ppl
    limit: [1, 2, 3, 4, 5]
)";

TEST(GridCountTest, CountOfAThreeAxisGridIsTheProduct) {
  const Grid grid = MustParse(kThreeAxes);
  EXPECT_EQ(CountGridJobs(grid), 3 * 4 * 5);
  EXPECT_EQ(MustExpand(kThreeAxes).size(), 3u * 4 * 5);
  // Models, methods and tasks add; calibration multiplies only gptq; zip is one axis.
  EXPECT_EQ(CountGridJobs(MustParse(kCounts)), 90);
  EXPECT_EQ(CountGridJobs(MustParse(std::string(kCounts) + "calibration: {samples: [16, 32]}\n")),
            2 * (1 + 6 + 8 * 2) * 3);
  EXPECT_EQ(CountGridJobs(MustParse(std::string(kCounts) + "repeats: 3\n")), 90 * 3);
  EXPECT_EQ(CountGridJobs(MustParse(R"(
models: [m/x]
methods: [{name: gptq, act_order: [false, true], bits: [4, 3, 2], group_size: [128, 64, 32]}]
tasks: [ppl]
zip: [[methods.gptq.bits, methods.gptq.group_size]]
)")),
            2 * 3);
}

TEST(GridCountTest, TheCountIsTheCrossProductBeforeFilters) {
  const std::string yaml = std::string(kCounts) + "exclude:\n  - {method: gptq}\n";
  EXPECT_EQ(CountGridJobs(MustParse(yaml)), 90);
  EXPECT_EQ(MustExpand(yaml).size(), 90u - 2 * 8 * 3);
}

TEST(GridCountTest, HugeGridsSaturateInsteadOfOverflowing) {
  Grid grid;
  grid.models.push_back({"x", "m/x", {"float32"}, {}});
  grid.methods.push_back({"none", {}, {}, {}});
  GridEntry task{"ppl", {}, {}, {}};
  for (const char* param :
       {"limit", "seed", "context", "stride", "batch_size", "dataset", "format"}) {
    task.axes.push_back({param, std::vector<std::string>(1000, "1"), {}});
  }
  grid.tasks.push_back(task);  // 1000^7 = 10^21 > INT64_MAX
  EXPECT_EQ(CountGridJobs(grid), std::numeric_limits<int64_t>::max());
  const absl::Status status = CheckGridJobLimit(grid, 1000000, "--max_jobs");
  EXPECT_TRUE(absl::StrContains(status.message(), "more than 9223372036854775807 jobs"))
      << status;
}

TEST(GridCountTest, OverTheLimitIsAnErrorNamingTheCountAndTheLargestAxes) {
  const Grid grid = MustParse(kThreeAxes, "sweep.yaml");
  EXPECT_TRUE(CheckGridJobLimit(grid, 60, "--max_jobs").ok());
  const absl::Status status = CheckGridJobLimit(grid, 59, "--max_jobs");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> lines = absl::StrSplit(status.message(), '\n');
  ASSERT_EQ(lines.size(), 4u) << status;
  EXPECT_EQ(lines[0],
            "sweep.yaml: 60 jobs (the cross product of the axes, before include/exclude), more "
            "than --max_jobs=59; narrow the largest axes or raise the limit. The largest axes:");
  EXPECT_EQ(lines[1], "sweep.yaml:9:5: tasks: ppl: limit: 5 values");
  EXPECT_EQ(lines[2], "sweep.yaml:6:5: methods: rtn: group_size: 4 values");
  EXPECT_EQ(lines[3], "sweep.yaml:5:5: methods: rtn: bits: 3 values");
}

TEST(GridCountTest, ZippedAxesAreNamedAsOne) {
  const Grid grid = MustParse(R"(
models: [m/x]
methods: [{name: gptq, bits: [4, 3, 2], group_size: [128, 64, 32]}]
tasks: [ppl]
repeats: 2
zip: [[methods.gptq.bits, methods.gptq.group_size]]
)");
  const absl::Status status = CheckGridJobLimit(grid, 5, "serve --max_jobs");
  EXPECT_TRUE(absl::StrContains(status.message(), "6 jobs")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "serve --max_jobs=5")) << status;
  EXPECT_TRUE(absl::StrContains(
      status.message(), "grid.yaml:3:24: methods: gptq: bits+group_size (zipped): 3 values"))
      << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "grid.yaml: repeats: 2")) << status;
}

// Everything that varies between jobs at once: models and dtypes, methods that calibrate
// and not, calibration and task axes, a dataset file, repeats, filters and a duplicate.
constexpr char kEverything[] = R"(
models:
  - {name: a, path: models/a, dtype: [float32, bfloat16]}
  - {name: b, path: models/b}
methods:
  - none
  - {name: rtn, bits: [4, 3]}
  - {name: rtn, bits: 4, group_size: 128}   # the same as rtn bits 4
  - {name: gptq, bits: [4, 3], act_order: [false, true]}
calibration: {samples: [16, 32]}
tasks:
  - {name: ppl, context: [64, 128], limit: 2}
  - {name: mc, dataset: data/q.jsonl, batch_size: [4, 8]}
repeats: 2
include:
  - {model: a}
  - {method: none}
exclude:
  - {method: gptq, bits: 3, act_order: true, task: mc}
)";

TEST(GridStreamTest, KeysAreThoseOfTheSpecsAndTheStreamIsExpandGrid) {
  const Grid grid = MustParse(kEverything);
  const PathIdentities identities = FakeIdentities(grid);
  absl::StatusOr<std::vector<v1::JobSpec>> expanded = ExpandGrid(grid, identities);
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  std::vector<v1::JobSpec> streamed;
  absl::StatusOr<int64_t> count = ForEachGridJob(grid, identities, [&](const v1::JobSpec& job) {
    streamed.push_back(job);
    return absl::OkStatus();
  });
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, static_cast<int64_t>(expanded->size()));
  ASSERT_EQ(streamed.size(), expanded->size());
  std::set<std::string> keys;
  for (size_t i = 0; i < streamed.size(); ++i) {
    const v1::JobSpec& job = streamed[i];
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(job, (*expanded)[i]));
    // The keys made from shared record parts are those of the job as a whole.
    EXPECT_EQ(job.job_key(), *ComputeJobKey(job, identities)) << Describe(job);
    EXPECT_EQ(job.quant_key(), *ComputeQuantKey(job, identities)) << Describe(job);
    EXPECT_TRUE(keys.insert(job.job_key()).second) << "duplicate " << Describe(job);
    EXPECT_EQ(job.has_calibration(), job.method().name() == "gptq") << Describe(job);
  }
  // a: 2 dtypes x (none + 2 rtn + 4 gptq x 2 calibrations; the second rtn entry is a
  // duplicate) x (2 ppl + 1 mc: batch_size does not count) x 2 repeats, less gptq bits 3
  // act_order true on mc (2 dtypes x 2 calibrations x 2 repeats); b: none only, 3 tasks x 2
  // repeats.
  EXPECT_EQ(streamed.size(), 2u * (1 + 2 + 4 * 2) * 3 * 2 - 2 * 2 * 2 + 3 * 2);
  EXPECT_LE(*count, CountGridJobs(grid));
}

TEST(GridStreamTest, ErrorsKnownAtTheEndComeAfterTheJobs) {
  const Grid grid = MustParse(std::string(kCounts) + "exclude:\n  - {bits: 7}\n");
  int64_t seen = 0;
  absl::StatusOr<int64_t> count =
      ForEachGridJob(grid, FakeIdentities(grid), [&](const v1::JobSpec&) {
        ++seen;
        return absl::OkStatus();
      });
  EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(count.status().message(), "exclude: this entry matches no job"))
      << count.status();
  EXPECT_EQ(seen, 90);  // the caller was warned: undo what it did with them
}

TEST(GridStreamTest, AnErrorFromTheSinkStopsTheExpansion) {
  const Grid grid = MustParse(kCounts);
  int64_t seen = 0;
  absl::StatusOr<int64_t> count =
      ForEachGridJob(grid, FakeIdentities(grid), [&](const v1::JobSpec&) {
        return ++seen == 5 ? absl::ResourceExhaustedError("enough") : absl::OkStatus();
      });
  EXPECT_EQ(count.status(), absl::ResourceExhaustedError("enough"));
  EXPECT_EQ(seen, 5);
}

TEST(GridExpandTest, QuantKeysAreSharedAcrossTasksAndRepeats) {
  const std::vector<v1::JobSpec> jobs = MustExpand(R"(
models: [m/x]
methods: [{name: gptq, bits: [4, 3]}]
tasks: [ppl, boolq]
repeats: 2
)");
  std::map<std::string, int> per_quant_key;
  for (const v1::JobSpec& job : jobs) ++per_quant_key[job.quant_key()];
  EXPECT_EQ(per_quant_key.size(), 2u);
  for (const auto& [key, count] : per_quant_key) EXPECT_EQ(count, 4);
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

const PathIdentities kIdentities = {{"m/x", std::string(64, 'a')}};

TEST(GridSingleJobTest, OneValuePerAxisIsOneJob) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(
name: one
models: [m/x]
methods: [{name: gptq, bits: 3, group_size: 64}]
tasks: [{name: ppl, dataset: tinystories, context: 512}]
)", "job.yaml", kIdentities);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->sweep_name(), "one");
  EXPECT_EQ(job->method().params().at("bits"), "3");
  EXPECT_TRUE(job->has_calibration());
  EXPECT_EQ(job->task().params().at("format"), "paragraphs");
  EXPECT_EQ(job->job_key().size(), 64u);
}

TEST(GridSingleJobTest, MoreThanOneJobIsAnErrorThatNamesTheAxes) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(models: [m/x]
methods:
  - name: rtn
    bits: [4, 3]
tasks: [ppl, boolq]
repeats: 2
)", "job.yaml", kIdentities);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(),
            "job.yaml: a job file describes exactly one job; this one describes 8 (methods: "
            "rtn: bits (2 values, line 4); 2 tasks; repeats: 2); give each axis one value, or "
            "submit it as a grid with llmq-coord submit");
}

TEST(GridSingleJobTest, FiltersCanNarrowAGridToOneJob) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(R"(models: [m/x]
methods: [{name: rtn, bits: [4, 3]}]
tasks: [ppl]
include: [{bits: 3}]
)", "job.yaml", kIdentities);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->method().params().at("bits"), "3");
}

TEST(GridSingleJobTest, ParseErrorsPassThrough) {
  EXPECT_EQ(ParseSingleJob("models: [m/x]\ntasks: [pll]\n", "job.yaml", kIdentities)
                .status()
                .message(),
            "job.yaml:2:9: tasks: unknown task \"pll\" (did you mean \"ppl\"?)");
}

TEST(GridSingleJobTest, ComputesIdentitiesOfTheFilesItNames) {
  const absl::StatusOr<v1::JobSpec> job = ParseSingleJob(
      "models: [assets/models/stories260K]\ntasks: [ppl]\n", "job.yaml");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->model().identity(), *ComputeModelIdentity("assets/models/stories260K"));
  EXPECT_EQ(ParseSingleJob("models: [no/such/model]\ntasks: [ppl]\n", "job.yaml")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST(GridSingleJobTest, FormattedJobsReadBackAsThemselves) {
  const Grid grid = testing_util::MustParse(R"(
name: "null"
models:
  - {name: "a b: c", path: /models/a, dtype: [float32, bf16]}
methods:
  - none
  - {name: gptq, bits: [4, 3], act_order: true, keep: "lm_head,model.layers.0.*"}
  - {name: llm_int8, threshold: 5.5}
calibration: {dataset: /data/calib.txt, samples: 8, mode: first}
tasks:
  - {name: ppl, dataset: tinystories, protocol: rolling, context: 512}
  - {name: mc, dataset: /data/q.jsonl, batch_size: 2}
  - {name: efficiency, prompt_lengths: "16,32"}
repeats: 2
timeout: 90s
priority: -3
resources: {device: cpu, memory: 1GiB}
)");
  const PathIdentities identities = testing_util::FakeIdentities(grid);
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandGrid(grid, identities);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u * 4 * 3 * 2);
  for (const v1::JobSpec& job : *jobs) {
    const std::string yaml = FormatJobAsGrid(job);
    const absl::StatusOr<v1::JobSpec> back = ParseSingleJob(yaml, "job.yaml", identities);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, job))
        << yaml << "\n" << back->DebugString() << "\n" << job.DebugString();
  }
}

}  // namespace
}  // namespace llmq

// Every grid in examples/ parses and expands against the bundled assets (tests run from the
// repository root).
namespace llmq {
namespace {

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> files;
  DIR* dir = ::opendir("examples");
  if (dir == nullptr) return files;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".yaml") || absl::EndsWith(name, ".yml")) {
      files.push_back("examples/" + name);
    }
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::vector<v1::JobSpec>> ExpandExample(const std::string& path) {
  absl::StatusOr<Grid> grid = LoadGridFile(path);
  if (!grid.ok()) return grid.status();
  if (absl::Status blocks = ReadGridModelBlocks(&*grid); !blocks.ok()) return blocks;
  absl::StatusOr<PathIdentities> identities = ComputeGridIdentities(*grid);
  if (!identities.ok()) return identities.status();
  return ExpandGrid(*grid, *identities);
}

TEST(GridExamplesTest, EveryExampleParsesAndExpands) {
  const std::vector<std::string> files = ExampleFiles();
  EXPECT_GE(files.size(), 4u);
  for (const std::string& file : files) {
    const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample(file);
    ASSERT_TRUE(jobs.ok()) << file << ": " << jobs.status();
    EXPECT_FALSE(jobs->empty()) << file;
    std::set<std::string> keys;
    for (const v1::JobSpec& job : *jobs) keys.insert(job.job_key());
    EXPECT_EQ(keys.size(), jobs->size()) << file;
  }
}

TEST(GridExamplesTest, DemoIsFiveQuickJobsOnTheBundledModel) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample("examples/demo.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 5u);
  for (const v1::JobSpec& job : *jobs) {
    EXPECT_TRUE(absl::EndsWith(job.model().path(), "/assets/models/stories260K"));
    EXPECT_EQ(job.task().params().at("dataset"), "tinystories");
    EXPECT_EQ(job.task().params().at("context"), "512");
    EXPECT_NE(job.task().params().at("limit"), "0");
    // Only GPTQ calibrates, on 32 C4 windows.
    EXPECT_EQ(job.has_calibration(), job.method().name() == "gptq") << job.method().name();
    if (job.has_calibration()) EXPECT_EQ(job.calibration().samples(), 32);
  }
  EXPECT_EQ((*jobs)[0].method().name(), "none");
  std::vector<std::string> variants;
  for (size_t i = 1; i < jobs->size(); ++i) {
    variants.push_back(absl::StrCat((*jobs)[i].method().name(), " w",
                                    (*jobs)[i].method().params().at("bits"), " g",
                                    (*jobs)[i].method().params().at("group_size")));
  }
  EXPECT_EQ(variants, (std::vector<std::string>{"rtn w4 g32", "rtn w3 g32", "gptq w4 g32",
                                                "gptq w3 g32"}));
}

TEST(GridExamplesTest, EndToEndGridHasAtLeastTwelveQuickJobs) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs = ExpandExample("examples/e2e-12.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), 13u);  // 5 method variants x 3 tasks - 2 excluded
  for (const v1::JobSpec& job : *jobs) {
    EXPECT_FALSE(job.has_calibration());
    if (job.task().name() == "ppl") {
      EXPECT_NE(job.task().params().at("limit"), "0");
    }
  }
}

TEST(GridExamplesTest, SeedTableHasThePapersLayout) {
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs =
      ExpandExample("examples/seed-table.yaml");
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), (1u + 3 * 2) * 5);
  std::set<std::string> tasks, group_sizes;
  for (const v1::JobSpec& job : *jobs) {
    tasks.insert(job.task().name());
    if (job.method().name() != "none") {
      EXPECT_EQ(job.method().params().at("bits"), "4");
      group_sizes.insert(job.method().params().at("group_size"));
    }
  }
  EXPECT_EQ(tasks, (std::set<std::string>{"ppl", "boolq", "gsm8k", "msmarco", "efficiency"}));
  EXPECT_EQ(group_sizes, (std::set<std::string>{"16", "64"}));
}

TEST(GridExamplesTest, RelativeGridPathGivesRelativeModelPaths) {
  absl::StatusOr<Grid> grid = ParseGrid("models: [../assets/models/stories260K]\ntasks: [ppl]\n",
                                        "examples/inline.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  EXPECT_EQ(grid->models[0].path, "assets/models/stories260K");
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

constexpr char kScan[] = R"(
models: [models/a, models/b]
methods:
  - none
  - {name: rtn, bits: 3, group_size: 16, scan: layers}
tasks: [ppl]
)";

Grid ScanGrid(int blocks_a, int blocks_b) {
  Grid grid = testing_util::MustParse(kScan);
  grid.models[0].blocks = blocks_a;
  grid.models[1].blocks = blocks_b;
  return grid;
}

TEST(GridScanTest, ExpandsIntoOneJobPerBlockOfEachModel) {
  const Grid grid = ScanGrid(3, 2);
  EXPECT_TRUE(GridScansLayers(grid));
  EXPECT_EQ(CountGridJobs(grid), 2 * (1 + 3));  // the most blocks of any model: an upper bound
  const absl::StatusOr<std::vector<v1::JobSpec>> jobs =
      ExpandGrid(grid, testing_util::FakeIdentities(grid));
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  std::vector<std::string> seen;
  std::set<std::string> keys, quant_keys;
  for (const v1::JobSpec& job : *jobs) {
    keys.insert(job.job_key());
    quant_keys.insert(job.quant_key());
    EXPECT_EQ(job.method().params().count("scan"), 0u) << "scan is not a job parameter";
    if (job.method().name() == "none") continue;
    seen.push_back(absl::StrCat(job.model().alias(), ":", job.method().params().at("block")));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a:0", "a:1", "a:2", "b:0", "b:1"}));
  EXPECT_EQ(keys.size(), jobs->size());
  EXPECT_EQ(quant_keys.size(), jobs->size());  // each block is its own quantized model
}

TEST(GridScanTest, AScannedJobIsTheJobWrittenWithItsBlock) {
  const Grid scan = ScanGrid(3, 2);
  const Grid one = testing_util::MustParse(R"(
models: [models/a, models/b]
methods:
  - {name: rtn, bits: 3, group_size: 16, block: 1}
tasks: [ppl]
)");
  const auto scanned = ExpandGrid(scan, testing_util::FakeIdentities(scan));
  const auto written = ExpandGrid(one, testing_util::FakeIdentities(one));
  ASSERT_TRUE(scanned.ok() && written.ok());
  const std::string key = (*written)[0].job_key();
  EXPECT_EQ(std::count_if(scanned->begin(), scanned->end(),
                          [&](const v1::JobSpec& job) { return job.job_key() == key; }),
            1);
}

TEST(GridScanTest, EveryBlockJobDiffersFromTheWholeModelJob) {
  const Grid grid = testing_util::MustParse(R"(
models: [models/a]
methods:
  - {name: rtn, bits: 3, group_size: 16}
  - {name: rtn, bits: 3, group_size: 16, block: 0}
tasks: [ppl]
)");
  const auto jobs = ExpandGrid(grid, testing_util::FakeIdentities(grid));
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_NE((*jobs)[0].quant_key(), (*jobs)[1].quant_key());
  // The default (-1, every block) stays out of the key: jobs written before `block` existed
  // keep theirs, so their job spec has block -1 and the same key as without it.
  EXPECT_EQ((*jobs)[0].method().params().at("block"), "-1");
}

TEST(GridScanTest, ErrorsNameWhatIsMissingOrContradictory) {
  const Grid unread = testing_util::MustParse(kScan);
  const auto jobs = ExpandGrid(unread, testing_util::FakeIdentities(unread));
  ASSERT_FALSE(jobs.ok());
  EXPECT_TRUE(absl::StrContains(jobs.status().message(), "grid.yaml:2:")) << jobs.status();
  EXPECT_TRUE(absl::StrContains(jobs.status().message(), "block count")) << jobs.status();

  const Grid both = testing_util::MustParse(R"(
models: [models/a]
methods:
  - {name: rtn, scan: layers, block: 2}
tasks: [ppl]
)");
  const auto contradictory = ExpandGrid(both, testing_util::FakeIdentities(both));
  ASSERT_FALSE(contradictory.ok());
  EXPECT_TRUE(absl::StrContains(contradictory.status().message(),
                                "scan: layers sets block itself"))
      << contradictory.status();
  EXPECT_EQ(testing_util::FirstError("models: [m]\nmethods: [{name: rtn, scan: blocks}]\n"
                                     "tasks: [ppl]\n"),
            "bad.yaml:2:29: methods: rtn: scan: expected one of none, layers, got \"blocks\"");
}

TEST(GridScanTest, ReadsTheBundledModelsBlocks) {
  absl::StatusOr<Grid> grid = ParseGrid(
      "models: [assets/models/stories260K]\nmethods: [{name: rtn, scan: layers}]\ntasks: [ppl]\n",
      "scan.yaml");
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_TRUE(ReadGridModelBlocks(&*grid).ok());
  EXPECT_EQ(grid->models[0].blocks, 5);
  const absl::StatusOr<v1::JobSpec> single = ParseSingleJob(
      "models: [assets/models/stories260K]\nmethods: [{name: rtn, scan: layers}]\ntasks: [ppl]\n",
      "scan.yaml");
  ASSERT_FALSE(single.ok());
  EXPECT_TRUE(absl::StrContains(single.status().message(), "describes 5")) << single.status();
}

}  // namespace
}  // namespace llmq
