#include "coordinator/store_codec.h"

#include <utility>

#include "common/status.h"
#include "coordinator/scheduler_test_fixture.h"
#include "gtest/gtest.h"
#include "storage/codec.h"

namespace llmq {
namespace {

// A state is stored as llmq.proto names it, so a database reads the same whichever side
// wrote it, and every value survives the trip.
TEST(CoordStoreCodecTest, EnumsMapNameForName) {
  for (int i = v1::JobState_MIN; i <= v1::JobState_MAX; ++i) {
    if (!v1::JobState_IsValid(i)) continue;
    const auto state = static_cast<v1::JobState>(i);
    EXPECT_EQ(JobStateName(FromProto(state)), v1::JobState_Name(state));
    EXPECT_EQ(ToProto(FromProto(state)), state);
  }
  for (int i = v1::ErrorClass_MIN; i <= v1::ErrorClass_MAX; ++i) {
    if (!v1::ErrorClass_IsValid(i)) continue;
    const auto error_class = static_cast<v1::ErrorClass>(i);
    EXPECT_EQ(ErrorClassName(FromProto(error_class)),
              error_class == v1::ERROR_CLASS_UNSPECIFIED ? "" : v1::ErrorClass_Name(error_class));
    EXPECT_EQ(ToProto(FromProto(error_class)), error_class);
  }
  // Values from a newer peer.
  EXPECT_EQ(FromProto(static_cast<v1::JobState>(99)), JobState::kUnspecified);
  EXPECT_EQ(FromProto(static_cast<v1::ErrorClass>(99)), ErrorClass::kUnspecified);
}

TEST(CoordStoreCodecTest, SpecBecomesColumnsAndAWholeBlob) {
  v1::JobSpec spec = MakeSpec({"a", 2, "cuda", 4096});
  spec.set_timeout_seconds(90);
  spec.set_repeat(1);
  spec.mutable_model()->set_dtype("bfloat16");
  (*spec.mutable_task()->mutable_params())["dataset"] = "wikitext2";
  spec.mutable_calibration()->set_dataset("c4");
  spec.mutable_calibration()->set_samples(128);
  spec.mutable_calibration()->set_seq_len(2048);
  spec.mutable_calibration()->set_seed(7);
  spec.mutable_calibration()->set_mode("random");
  const NewJob job = FromProto(spec);
  EXPECT_EQ(job.job_key, "a");
  EXPECT_EQ(job.quant_key, "q-a");
  EXPECT_EQ(job.priority, 2);
  EXPECT_EQ(job.device, "cuda");
  EXPECT_EQ(job.memory_bytes, 4096);
  EXPECT_EQ(job.timeout_seconds, 90);
  EXPECT_EQ(job.model, "tiny");
  EXPECT_EQ(job.model_path, "/models/tiny");
  EXPECT_EQ(job.dtype, "bfloat16");
  EXPECT_EQ(job.method, "rtn");
  EXPECT_EQ(ParamsToJson(job.method_params), "{\"bits\":4}");
  EXPECT_EQ(job.task, "ppl");
  EXPECT_EQ(ParamsToJson(job.task_params), "{\"dataset\":\"wikitext2\"}");
  EXPECT_EQ(CalibrationToJson(job.calibration),
            "{\"dataset\":\"c4\",\"mode\":\"random\",\"samples\":128,\"seed\":7,\"seq_len\":2048}");
  EXPECT_EQ(job.repeat, 1);
  absl::StatusOr<v1::JobSpec> parsed = ParseStoredSpec(7, job.spec);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), spec.SerializeAsString());
  EXPECT_EQ(ParseStoredSpec(7, "not a spec").status().code(), absl::StatusCode::kDataLoss);
}

TEST(CoordStoreCodecTest, ResultBecomesMetricsProvenanceTimingsAndABlob) {
  const v1::JobResult result = MakeResult(3.5);
  const ResultRecord record = FromProto(result);
  ASSERT_EQ(record.metrics.size(), 1u);
  EXPECT_EQ(record.metrics[0].name, "ppl");
  EXPECT_EQ(record.metrics[0].value, 3.5);
  EXPECT_EQ(record.provenance.at("host"), "test-host");
  ASSERT_EQ(record.timings.size(), 1u);
  EXPECT_EQ(record.timings[0].stage, "evaluate");
  EXPECT_EQ(record.timings[0].seconds, 0.25);
  v1::JobResult parsed;
  ASSERT_TRUE(parsed.ParseFromString(record.result));
  EXPECT_EQ(parsed.SerializeAsString(), result.SerializeAsString());

  ResultRow row;
  row.job_id = 3;
  row.spec = "not a spec";
  row.result = record.result;
  EXPECT_EQ(ToProto(row).status().code(), absl::StatusCode::kDataLoss);
}

// Through a real store: what the user service answers after a job ran.
class CoordStoreCodecStoreTest : public SchedulerTest {
 protected:
  template <typename Fn>
  void Read(Fn&& fn) {
    ASSERT_TRUE(store_->Read(std::forward<Fn>(fn)).ok());
  }
};

TEST_F(CoordStoreCodecStoreTest, StoredRowsComeBackAsTheMessagesUsersSee) {
  const std::string w = Register("node1", {"cpu", "cuda:0"});
  v1::JobSpec first = MakeSpec({"a"});
  first.set_sweep_name("named-by-the-grid");
  const int64_t sweep = Submit({first, MakeSpec({"b"})});
  auto lease = Lease(w);
  ASSERT_TRUE(lease.has_value());
  ASSERT_TRUE(Heartbeat(*lease, w, "quantize").lease_valid());
  Read([&](ReadTxn& txn) -> absl::Status {
    ReadTxn::JobFilter filter;
    filter.sweep_id = sweep;
    LLMQ_ASSIGN_OR_RETURN(std::vector<JobRow> jobs, txn.ListJobs(filter));
    EXPECT_EQ(jobs.size(), 2u);
    LLMQ_ASSIGN_OR_RETURN(v1::JobInfo running, ToProto(jobs[0]));
    EXPECT_EQ(running.job_id(), lease->job_id());
    EXPECT_EQ(running.spec().job_key(), "a");
    EXPECT_EQ(running.state(), v1::RUNNING);
    EXPECT_EQ(running.attempts(), 1);
    EXPECT_EQ(running.worker_id(), w);
    EXPECT_EQ(running.progress().stage(), "quantize");
    LLMQ_ASSIGN_OR_RETURN(v1::JobInfo pending, ToProto(jobs[1]));
    EXPECT_EQ(pending.state(), v1::PENDING);
    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> workers, txn.ListWorkers());
    EXPECT_EQ(workers.size(), 1u);
    const v1::WorkerInfo worker = ToProto(workers[0]);
    EXPECT_EQ(worker.worker_id(), w);
    EXPECT_EQ(worker.devices_size(), 2);
    EXPECT_EQ(worker.state(), "active");
    EXPECT_EQ(worker.current_job_id(), lease->job_id());
    return absl::OkStatus();
  });

  ASSERT_EQ(Report(*lease, w), v1::RECORDED);
  Read([&](ReadTxn& txn) -> absl::Status {
    LLMQ_ASSIGN_OR_RETURN(std::vector<SweepRow> sweeps, txn.ListSweeps());
    EXPECT_EQ(sweeps.size(), 1u);
    const v1::SweepSummary summary = ToProto(sweeps[0]);
    EXPECT_EQ(summary.sweep_id(), sweep);
    EXPECT_EQ(summary.name(), "test-sweep");
    EXPECT_EQ(summary.jobs_total(), 2);
    EXPECT_EQ(summary.jobs_by_state().at("SUCCEEDED"), 1);
    EXPECT_EQ(summary.jobs_by_state().at("PENDING"), 1);

    v1::QueryResultsRequest request;
    request.set_sweep_id(sweep);
    LLMQ_ASSIGN_OR_RETURN(std::vector<ResultRow> rows, txn.QueryResults(FromProto(request)));
    EXPECT_EQ(rows.size(), 1u);
    LLMQ_ASSIGN_OR_RETURN(v1::ResultRow row, ToProto(rows[0]));
    EXPECT_EQ(row.job_id(), lease->job_id());
    EXPECT_EQ(row.spec().job_key(), "a");
    EXPECT_EQ(row.spec().sweep_name(), "test-sweep");  // the queried sweep's name
    EXPECT_EQ(row.result().metrics(0).value(), 3.5);
    EXPECT_EQ(row.result().provenance().at("host"), "test-host");
    EXPECT_EQ(row.result().provenance().at("attempt"), "1");  // the coordinator's
    EXPECT_EQ(row.worker_id(), w);

    LLMQ_ASSIGN_OR_RETURN(rows, txn.QueryResults(FromProto(v1::QueryResultsRequest())));
    LLMQ_ASSIGN_OR_RETURN(row, ToProto(rows.at(0)));
    EXPECT_EQ(row.spec().sweep_name(), "named-by-the-grid");  // no sweep asked: as submitted
    request.set_method("gptq");
    LLMQ_ASSIGN_OR_RETURN(rows, txn.QueryResults(FromProto(request)));
    EXPECT_TRUE(rows.empty());
    return absl::OkStatus();
  });
}

}  // namespace
}  // namespace llmq
