#include "storage/store.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "gtest/gtest.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// The spec blob the store keeps for job `key` (opaque to it).
std::string SpecBlob(const std::string& key) { return absl::StrCat("spec of ", key); }

NewJob Spec(const std::string& key, int priority = 0, const std::string& device = "any",
            int64_t memory = 0, const std::string& quant_key = "") {
  NewJob job;
  job.job_key = key;
  job.quant_key = quant_key.empty() ? absl::StrCat("q-", key) : quant_key;
  job.priority = priority;
  job.model = "tiny";
  job.model_path = "/models/tiny";
  job.method = "rtn";
  job.method_params["bits"] = "4";
  job.method_params["group_size"] = "32";
  job.task = "ppl";
  job.task_params["dataset"] = "wikitext2";
  job.device = device;
  job.memory_bytes = memory;
  job.spec = SpecBlob(key);
  return job;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(FreshDbPath("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }

  int64_t AddSweep(const std::vector<NewJob>& specs, const std::string& name = "s") {
    int64_t sweep_id = 0;
    EXPECT_TRUE(store_
                    ->Write([&](WriteTxn& txn) -> absl::Status {
                      auto id = txn.InsertSweep(name, "yaml", "grid.yaml", kT0);
                      if (!id.ok()) return id.status();
                      sweep_id = *id;
                      for (const auto& spec : specs) {
                        auto added = txn.AddJob(sweep_id, spec, 3, kT0);
                        if (!added.ok()) return added.status();
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return sweep_id;
  }

  std::optional<ClaimedJob> Claim(ClaimRequest request) {
    if (request.lease_id.empty()) request.lease_id = absl::StrCat("lease-", ++leases_);
    if (request.worker_id.empty()) request.worker_id = "w1";
    if (request.now == absl::Time()) request.now = kT0;
    request.lease_expires = request.now + absl::Seconds(60);
    std::optional<ClaimedJob> claimed;
    EXPECT_TRUE(store_
                    ->Write([&](WriteTxn& txn) -> absl::Status {
                      auto result = txn.ClaimNextJob(request);
                      if (!result.ok()) return result.status();
                      claimed = *result;
                      return absl::OkStatus();
                    })
                    .ok());
    return claimed;
  }

  bool Finish(const LeaseFence& fence, AttemptEnd end) {
    bool finished = false;
    EXPECT_TRUE(store_
                    ->Write([&](WriteTxn& txn) -> absl::Status {
                      auto result = txn.FinishAttempt(fence, end);
                      if (!result.ok()) return result.status();
                      finished = *result;
                      return absl::OkStatus();
                    })
                    .ok());
    return finished;
  }

  JobRecord Job(int64_t id) {
    JobRecord job;
    EXPECT_TRUE(store_
                    ->Write([&](WriteTxn& txn) -> absl::Status {
                      auto result = txn.GetJob(id);
                      if (!result.ok()) return result.status();
                      if (!result->has_value()) return absl::NotFoundError("no job");
                      job = **result;
                      return absl::OkStatus();
                    })
                    .ok());
    return job;
  }

  std::unique_ptr<Store> store_;
  int leases_ = 0;
};

TEST_F(StoreTest, SameKeyInTwoSweepsIsOneJobLinkedToBoth) {
  int64_t first = AddSweep({Spec("a", 1), Spec("b")}, "first");
  WriteTxn::AddedJob again;
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    auto id = txn.InsertSweep("second", "yaml", "", kT0);
                    auto added = txn.AddJob(*id, Spec("a", 5), 3, kT0);
                    if (!added.ok()) return added.status();
                    again = *added;
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_FALSE(again.inserted);
  EXPECT_EQ(again.existing_state, JobState::kPending);
  EXPECT_EQ(Job(again.job_id).sweep_id, first);  // owned by the sweep that created it
  EXPECT_EQ(Job(again.job_id).priority, 5);      // raised to the newer, higher priority
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto sweeps = txn.ListSweeps();
                    EXPECT_EQ((*sweeps)[0].jobs_total, 2);
                    EXPECT_EQ((*sweeps)[1].jobs_total, 1);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(StoreTest, ClaimTakesHighestPriorityThenLongestWaiting) {
  AddSweep({Spec("low", 0), Spec("high-1", 2), Spec("high-2", 2)});
  EXPECT_EQ(Claim({})->spec, SpecBlob("high-1"));
  EXPECT_EQ(Claim({})->spec, SpecBlob("high-2"));
  EXPECT_EQ(Claim({})->spec, SpecBlob("low"));
  EXPECT_FALSE(Claim({}).has_value());
}

TEST_F(StoreTest, ClaimRecordsTheAttemptAndLeasesTheJob) {
  AddSweep({Spec("a")});
  ClaimRequest request;
  request.worker_id = "w7";
  request.free_memory_bytes = 1000;
  auto claimed = Claim(request);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->attempt, 1);
  JobRecord job = Job(claimed->job_id);
  EXPECT_EQ(job.state, JobState::kLeased);
  EXPECT_EQ(job.lease_id, claimed->lease_id);
  EXPECT_EQ(job.lease_worker, "w7");
  EXPECT_EQ(job.lease_expires, kT0 + absl::Seconds(60));
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    auto attempt = txn.GetAttempt(claimed->job_id, claimed->attempt);
                    EXPECT_TRUE(attempt->has_value());
                    EXPECT_EQ((*attempt)->worker_id, "w7");
                    EXPECT_EQ((*attempt)->free_memory_bytes, 1000);
                    EXPECT_EQ((*attempt)->outcome, "OPEN");
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(StoreTest, ClaimMatchesDeviceAndMemory) {
  AddSweep({Spec("cuda-job", 3, "cuda"), Spec("big-job", 2, "any", 8000),
            Spec("cpu-job", 1, "cpu")});
  ClaimRequest cpu_small;
  cpu_small.free_memory_bytes = 4000;
  EXPECT_EQ(Claim(cpu_small)->spec, SpecBlob("cpu-job"));
  EXPECT_FALSE(Claim(cpu_small).has_value());
  ClaimRequest gpu_big;
  gpu_big.has_cpu = false;
  gpu_big.has_cuda = true;
  gpu_big.free_memory_bytes = 16000;
  EXPECT_EQ(Claim(gpu_big)->spec, SpecBlob("cuda-job"));
  EXPECT_EQ(Claim(gpu_big)->spec, SpecBlob("big-job"));
}

TEST_F(StoreTest, ClaimPrefersCachedQuantKeyOnlyWithinTheTopPriority) {
  AddSweep({Spec("urgent", 9, "any", 0, "q-other"), Spec("plain", 1, "any", 0, "q-other"),
            Spec("cached", 1, "any", 0, "q-held")});
  ClaimRequest request;
  request.cached_quant_keys = {"q-held"};
  auto first = Claim(request);
  EXPECT_EQ(first->spec, SpecBlob("urgent"));  // priority beats affinity
  EXPECT_FALSE(first->affinity_hit);
  auto second = Claim(request);
  EXPECT_EQ(second->spec, SpecBlob("cached"));  // affinity beats age
  EXPECT_TRUE(second->affinity_hit);
}

TEST_F(StoreTest, UnfinishedJobsAndCountsFeedTheEtaAndMetrics) {
  NewJob bits3 = Spec("c");
  bits3.method_params["bits"] = "3";
  NewJob predicted = Spec("b");
  predicted.predicted_seconds = 12.5;
  const int64_t sweep = AddSweep({Spec("a"), predicted, bits3});
  ClaimRequest request;
  request.now = kT0 + absl::Seconds(5);
  std::optional<ClaimedJob> claimed = Claim(request);  // "a", waiting since its submission
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->eligible_since, kT0);
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    auto attempt = txn.GetAttempt(claimed->job_id, claimed->attempt);
                    EXPECT_TRUE(attempt.ok() && attempt->has_value());
                    EXPECT_EQ((*attempt)->leased, kT0 + absl::Seconds(5));
                    return absl::OkStatus();
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto unfinished = txn.UnfinishedJobsOf(sweep);
                    EXPECT_TRUE(unfinished.ok()) << unfinished.status();
                    // Pending per cell in order of first job, then the running one alone.
                    EXPECT_EQ(unfinished->size(), 3u);
                    const UnfinishedJobs& b = (*unfinished)[0];
                    EXPECT_FALSE(b.running);
                    EXPECT_EQ(b.count, 1);
                    EXPECT_EQ(b.method_params, R"({"bits":4,"group_size":32})");
                    EXPECT_EQ(b.predicted_seconds, 12.5);
                    const UnfinishedJobs& c = (*unfinished)[1];
                    EXPECT_EQ(c.method_params, R"({"bits":3,"group_size":32})");
                    EXPECT_EQ(c.predicted_seconds, std::nullopt);
                    const UnfinishedJobs& a = (*unfinished)[2];
                    EXPECT_TRUE(a.running);
                    EXPECT_EQ(a.count, 1);
                    EXPECT_EQ(a.running_since, kT0 + absl::Seconds(5));
                    auto counts = txn.JobCountsByState();
                    EXPECT_TRUE(counts.ok());
                    EXPECT_EQ(*counts, (std::map<JobState, int64_t>{{JobState::kPending, 2},
                                                                    {JobState::kLeased, 1}}));
                    return absl::OkStatus();
                  })
                  .ok());
  // The sweep's insert and the claim each committed.
  EXPECT_GE(store_->commit_seconds().count, 2);
}

TEST_F(StoreTest, FinishAttemptIsFencedByLeaseAndAttempt) {
  AddSweep({Spec("a")});
  auto claimed = Claim({});
  AttemptEnd end;
  end.outcome = "SUCCEEDED";
  end.next_state = JobState::kSucceeded;
  end.now = kT0 + absl::Seconds(5);
  EXPECT_FALSE(Finish({claimed->job_id, "someone-else", claimed->attempt}, end));
  EXPECT_FALSE(Finish({claimed->job_id, claimed->lease_id, claimed->attempt + 1}, end));
  EXPECT_EQ(Job(claimed->job_id).state, JobState::kLeased);
  EXPECT_TRUE(Finish({claimed->job_id, claimed->lease_id, claimed->attempt}, end));
  EXPECT_EQ(Job(claimed->job_id).state, JobState::kSucceeded);
  EXPECT_FALSE(Job(claimed->job_id).has_open_lease());
  EXPECT_FALSE(Finish({claimed->job_id, claimed->lease_id, claimed->attempt}, end));
}

TEST_F(StoreTest, RequeuedJobWaitsForItsBackoffAndOomHint) {
  AddSweep({Spec("a")});
  auto claimed = Claim({});
  AttemptEnd end;
  end.outcome = "FAILED";
  end.next_state = JobState::kPending;
  end.error_class = ErrorClass::kOutOfMemory;
  end.charged = true;
  end.now = kT0;
  end.next_eligible = kT0 + absl::Seconds(30);
  end.memory_hint_bytes = 4000;
  end.memory_hint_until = kT0 + absl::Minutes(10);
  ASSERT_TRUE(Finish({claimed->job_id, claimed->lease_id, 1}, end));
  ClaimRequest same_size;
  same_size.free_memory_bytes = 4000;
  same_size.now = kT0 + absl::Seconds(10);
  EXPECT_FALSE(Claim(same_size).has_value());  // backing off
  same_size.now = kT0 + absl::Seconds(31);
  EXPECT_FALSE(Claim(same_size).has_value());  // no bigger than the one that ran out
  ClaimRequest bigger = same_size;
  bigger.free_memory_bytes = 8000;
  auto retried = Claim(bigger);
  ASSERT_TRUE(retried.has_value());
  EXPECT_EQ(retried->attempt, 2);
  EXPECT_EQ(Job(retried->job_id).failures, 1);
}

TEST_F(StoreTest, CancelLeavesTheLeaseOpenAndRequeueClosesIt) {
  int64_t sweep = AddSweep({Spec("a"), Spec("b")});
  auto claimed = Claim({});
  int64_t cancelled = 0, requeued = 0;
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    cancelled =
                        *txn.CancelJobs(sweep, {JobState::kPending, JobState::kLeased}, kT0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(Job(claimed->job_id).state, JobState::kCancelled);
  EXPECT_TRUE(Job(claimed->job_id).has_open_lease());
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    requeued =
                        *txn.RequeueJobs(sweep, {claimed->job_id}, {JobState::kCancelled}, kT0);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(requeued, 1);
  EXPECT_EQ(Job(claimed->job_id).state, JobState::kPending);
  EXPECT_FALSE(Job(claimed->job_id).has_open_lease());
}

TEST_F(StoreTest, ResultsReachTheQueriesAndThePivotView) {
  int64_t sweep = AddSweep({Spec("a")});
  auto claimed = Claim({});
  ResultRecord result;
  result.metrics.push_back({"ppl", 9.75, "", 9.5, 10.25});
  result.metrics.push_back({"windows", 4, ""});
  result.example_scores = std::string("per-example\0scores", 18);
  result.examples = 4;
  result.provenance["host"] = "node1";
  result.timings.push_back({"quantize", 1.5});
  result.result = "the worker's result";
  AttemptEnd end;
  end.outcome = "SUCCEEDED";
  end.next_state = JobState::kSucceeded;
  end.now = kT0;
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    EXPECT_TRUE(*txn.FinishAttempt({claimed->job_id, claimed->lease_id, 1}, end));
                    return txn.InsertResult(claimed->job_id, 1, "w1", result,
                                            {{"llmq_coordinator", "0.1.0"}}, kT0);
                  })
                  .ok());
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    ResultsFilter filter;
                    filter.sweep_id = sweep;
                    auto rows = txn.QueryResults(filter);
                    EXPECT_EQ(rows->size(), 1u);
                    const ResultRow& row = rows->front();
                    EXPECT_EQ(row.result, "the worker's result");
                    EXPECT_EQ(row.spec, SpecBlob("a"));
                    EXPECT_EQ(row.sweep_name, "s");
                    EXPECT_EQ(row.provenance.at("host"), "node1");
                    EXPECT_EQ(row.provenance.at("llmq_coordinator"), "0.1.0");
                    EXPECT_EQ(row.worker_id, "w1");
                    EXPECT_EQ(row.example_scores, "");  // not asked for
                    filter.with_example_scores = true;
                    EXPECT_EQ(txn.QueryResults(filter)->front().example_scores,
                              std::string("per-example\0scores", 18));
                    filter.method = "gptq";
                    EXPECT_TRUE(txn.QueryResults(filter)->empty());
                    return absl::OkStatus();
                  })
                  .ok());
  auto db = sqlite::Connection::Open(store_->path(), sqlite::Connection::Mode::kReadOnly,
                                     absl::Seconds(1));
  auto interval = (*db)->Prepare(
      "SELECT metric, ci_low, ci_high FROM v_results_long ORDER BY metric");
  ASSERT_TRUE(interval.ok()) << interval.status();
  ASSERT_TRUE(*interval->Step());
  EXPECT_EQ(interval->Text(0), "ppl");
  EXPECT_DOUBLE_EQ(interval->Double(1), 9.5);
  EXPECT_DOUBLE_EQ(interval->Double(2), 10.25);
  ASSERT_TRUE(*interval->Step());
  EXPECT_TRUE(interval->IsNull(1));
  auto row = (*db)->Prepare("SELECT bits, group_size, task_dataset, ppl, wall_seconds, "
                            "json_extract(metrics, '$.ppl') FROM v_jobs");
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_TRUE(*row->Step());
  EXPECT_EQ(row->Int(0), 4);
  EXPECT_EQ(row->Int(1), 32);
  EXPECT_EQ(row->Text(2), "wikitext2");
  EXPECT_DOUBLE_EQ(row->Double(3), 9.75);
  EXPECT_DOUBLE_EQ(row->Double(4), 1.5);
  EXPECT_DOUBLE_EQ(row->Double(5), 9.75);
}

TEST_F(StoreTest, FailedWriteLeavesNoTrace) {
  absl::Status status = store_->Write([&](WriteTxn& txn) -> absl::Status {
    auto id = txn.InsertSweep("s", "yaml", "", kT0);
    auto spec = Spec("a");
    spec.method_params["new_param"] = "1";
    (void)txn.AddJob(*id, spec, 3, kT0);
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    EXPECT_TRUE(txn.ListSweeps()->empty());
                    return absl::OkStatus();
                  })
                  .ok());
  // The rolled-back parameter name is registered again by the next write that uses it.
  auto spec = Spec("a");
  spec.method_params["new_param"] = "1";
  AddSweep({spec});
  auto db = sqlite::Connection::Open(store_->path(), sqlite::Connection::Mode::kReadOnly,
                                     absl::Seconds(1));
  EXPECT_TRUE((*db)->Prepare("SELECT new_param FROM v_jobs").ok());
}

TEST_F(StoreTest, ListWorkersShowsTheCurrentJob) {
  AddSweep({Spec("a")});
  WorkerRecord worker;
  worker.id = "w1";
  worker.host = "node1";
  worker.devices = {"cpu", "cuda:0"};
  worker.memory_bytes = 1 << 20;
  worker.labels = {{"rack", "3"}};
  ASSERT_TRUE(store_->Write([&](WriteTxn& txn) { return txn.UpsertWorker(worker, kT0); }).ok());
  auto claimed = Claim({});
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto workers = txn.ListWorkers();
                    EXPECT_EQ(workers->size(), 1u);
                    EXPECT_EQ((*workers)[0].worker.devices.size(), 2u);
                    EXPECT_EQ((*workers)[0].worker.labels.at("rack"), "3");
                    EXPECT_EQ((*workers)[0].current_job_id, claimed->job_id);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(StoreTest, WorkersKeepTheirSlurmJobAcrossReRegistration) {
  WorkerRecord array_task;
  array_task.id = "w-array";
  array_task.host = "node1";
  array_task.slurm = SlurmJobRecord{7003, 7001, 0};
  WorkerRecord plain_job;
  plain_job.id = "w-job";
  plain_job.host = "node2";
  plain_job.slurm = SlurmJobRecord{55, 0, 0};
  WorkerRecord outside;
  outside.id = "w-none";
  outside.host = "laptop";
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    LLMQ_RETURN_IF_ERROR(txn.UpsertWorker(array_task, kT0));
                    LLMQ_RETURN_IF_ERROR(txn.UpsertWorker(plain_job, kT0 + absl::Seconds(1)));
                    return txn.UpsertWorker(outside, kT0 + absl::Seconds(2));
                  })
                  .ok());
  auto list = [&] {
    std::vector<WorkerRow> rows;
    EXPECT_TRUE(store_
                    ->Read([&](ReadTxn& txn) -> absl::Status {
                      LLMQ_ASSIGN_OR_RETURN(rows, txn.ListWorkers());
                      return absl::OkStatus();
                    })
                    .ok());
    return rows;
  };
  std::vector<WorkerRow> rows = list();
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_TRUE(rows[0].worker.slurm.has_value());
  EXPECT_EQ(rows[0].worker.slurm->job_id, 7003);
  EXPECT_EQ(rows[0].worker.slurm->array_job_id, 7001);
  EXPECT_EQ(rows[0].worker.slurm->array_task_id, 0);
  ASSERT_TRUE(rows[1].worker.slurm.has_value());
  EXPECT_EQ(rows[1].worker.slurm->job_id, 55);
  EXPECT_EQ(rows[1].worker.slurm->array_job_id, 0);
  EXPECT_FALSE(rows[2].worker.slurm.has_value());

  // A requeued array task registers again under the same worker id (its spool's) from a
  // new Slurm job.
  array_task.slurm = SlurmJobRecord{7010, 7001, 0};
  ASSERT_TRUE(store_
                  ->Write([&](WriteTxn& txn) -> absl::Status {
                    LLMQ_RETURN_IF_ERROR(txn.UpsertWorker(array_task, kT0 + absl::Seconds(9)));
                    LLMQ_ASSIGN_OR_RETURN(std::optional<WorkerRecord> got,
                                          txn.GetWorker("w-array"));
                    EXPECT_TRUE(got.has_value() && got->slurm.has_value() &&
                                got->slurm->job_id == 7010);
                    LLMQ_ASSIGN_OR_RETURN(got, txn.GetWorker("w-none"));
                    EXPECT_TRUE(got.has_value() && !got->slurm.has_value());
                    return absl::OkStatus();
                  })
                  .ok());
  rows = list();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].worker.slurm->job_id, 7010);
}

// Two Store objects on one file (as two processes would be), each with several threads
// leasing and finishing jobs: no call may fail with "database is locked".
TEST_F(StoreTest, ConcurrentWritersNeverSeeLockErrors) {
  std::vector<NewJob> specs;
  for (int i = 0; i < 400; ++i) specs.push_back(Spec(absl::StrCat("job-", i)));
  AddSweep(specs);
  auto other = Store::Open(store_->path());
  ASSERT_TRUE(other.ok());
  std::atomic<int> finished{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    Store* store = t % 2 == 0 ? store_.get() : other->get();
    threads.emplace_back([&, store, t] {
      for (int i = 0;; ++i) {
        std::optional<ClaimedJob> claimed;
        ClaimRequest request;
        request.worker_id = absl::StrCat("w", t);
        request.lease_id = absl::StrCat("l", t, "-", i);
        request.now = kT0;
        request.lease_expires = kT0 + absl::Seconds(60);
        absl::Status status = store->Write([&](WriteTxn& txn) -> absl::Status {
          auto result = txn.ClaimNextJob(request);
          if (result.ok()) claimed = *result;
          return result.status();
        });
        if (!status.ok()) ++errors;
        if (!claimed.has_value()) break;
        AttemptEnd end;
        end.outcome = "SUCCEEDED";
        end.next_state = JobState::kSucceeded;
        end.now = kT0;
        status = store->Write([&](WriteTxn& txn) -> absl::Status {
          return txn.FinishAttempt({claimed->job_id, claimed->lease_id, 1}, end).status();
        });
        if (!status.ok()) ++errors;
        ++finished;
        (void)store->Read([](ReadTxn& txn) { return txn.ListSweeps().status(); });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(finished.load(), 400);
}

// Writes that arrive together commit together, but each stands or falls alone.
TEST_F(StoreTest, GroupedWritesFailAlone) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong_status{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const bool fails = (t + i) % 3 == 0;
        absl::Status status = store_->Write([&](WriteTxn& txn) -> absl::Status {
          auto id = txn.InsertSweep(absl::StrCat(fails ? "bad-" : "good-", t, "-", i), "", "", kT0);
          if (!id.ok()) return id.status();
          return fails ? absl::AbortedError("no") : absl::OkStatus();
        });
        if (status.ok() == fails) ++wrong_status;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong_status.load(), 0);
  ASSERT_TRUE(store_
                  ->Read([&](ReadTxn& txn) -> absl::Status {
                    auto sweeps = txn.ListSweeps();
                    int good = 0;
                    for (const auto& sweep : *sweeps) {
                      EXPECT_EQ(sweep.name.rfind("good-", 0), 0u) << sweep.name;
                      ++good;
                    }
                    EXPECT_EQ(good, 8 * 40 - 107);  // (t + i) % 3 == 0 for 107 of the 320
                    return absl::OkStatus();
                  })
                  .ok());
  const Store::WriteStats stats = store_->write_stats();
  EXPECT_EQ(stats.writes, 320);
  EXPECT_LE(stats.commits, stats.writes);
}

}  // namespace
}  // namespace llmq
