// `llmq-coord submit`: to a running coordinator, or (--local, or when none answers) to an
// embedded one with local worker processes for this one sweep.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "coordinator/cli.h"
#include "coordinator/grid_submission.h"
#include "coordinator/progress_bar.h"
#include "coordinator/sweep_watch.h"
#include "coordinator/worker_processes.h"

namespace llmq {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

void PrintSubmitted(const v1::SubmitSweepResponse& response, const std::string& where) {
  std::fprintf(stderr, "sweep %lld: %lld jobs (%lld new, %lld already done, %lld in progress)%s\n",
               static_cast<long long>(response.sweep_id()),
               static_cast<long long>(response.jobs_total()),
               static_cast<long long>(response.jobs_new()),
               static_cast<long long>(response.jobs_already_done()),
               static_cast<long long>(response.jobs_in_progress()), where.c_str());
}

// Failed and cancelled jobs with their errors, on stderr. Returns how many.
int64_t ReportUnfinished(UserClient& client, int64_t sweep_id) {
  v1::ListJobsRequest request;
  request.set_sweep_id(sweep_id);
  request.add_states(v1::FAILED);
  request.add_states(v1::CANCELLED);
  absl::StatusOr<v1::ListJobsResponse> jobs = client.ListJobs(request);
  if (!jobs.ok()) return 0;
  for (const v1::JobInfo& job : jobs->jobs()) {
    std::fprintf(stderr, "job %lld %s (%s %s, %s): %s%s%s\n",
                 static_cast<long long>(job.job_id()), v1::JobState_Name(job.state()).c_str(),
                 job.spec().model().alias().c_str(), job.spec().method().name().c_str(),
                 job.spec().task().name().c_str(),
                 job.error_class() == v1::ERROR_CLASS_UNSPECIFIED
                     ? ""
                     : v1::ErrorClass_Name(job.error_class()).c_str(),
                 job.error().empty() ? "" : ": ", job.error().c_str());
  }
  return jobs->jobs_size();
}

int RunLocally(const PreparedSubmission& prepared, const SubmitOptions& options) {
  if (options.dry_run) {
    std::fprintf(stderr, "%s: %lld jobs (dry run: nothing submitted)\n",
                 options.grid_path.c_str(), static_cast<long long>(prepared.jobs));
    return kExitOk;
  }
  absl::StatusOr<std::string> worker_binary = FindWorkerBinary(options.worker_binary);
  if (!worker_binary.ok()) return Fail(worker_binary.status());
  std::string scratch = (std::filesystem::temp_directory_path() / "llmq-local-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) return Fail(absl::InternalError("mkdtemp failed"));

  ServerOptions server_options;
  server_options.db_path = options.db_path.empty() ? scratch + "/llmq.db" : options.db_path;
  server_options.listen = "127.0.0.1:0";
  server_options.lease_recheck = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
      CoordinatorServer::Start(server_options);
  if (!server.ok()) return Fail(server.status());
  ClientOptions client_options;
  client_options.target = (*server)->address();
  std::unique_ptr<UserClient> client = std::move(UserClient::Connect(client_options)).value();
  absl::StatusOr<v1::SubmitSweepResponse> submitted = client->SubmitSweep(prepared.request);
  if (!submitted.ok()) return Fail(submitted.status());
  PrintSubmitted(*submitted, absl::StrCat(" on a local coordinator, ", options.workers,
                                          " worker(s)"));

  WorkerProcesses workers;
  bool finished = false;
  if (submitted->jobs_new() + submitted->jobs_in_progress() > 0) {
    absl::Status started = workers.Start(
        *worker_binary,
        [&] {
          std::vector<std::string> args = {absl::StrCat("--coordinator=", (*server)->address())};
          args.insert(args.end(), options.worker_args.begin(), options.worker_args.end());
          return args;
        }(),
        options.workers, scratch);
    if (!started.ok()) return Fail(started);
    WatchOptions watch;
    watch.check = [&]() -> absl::Status {
      if (Interrupted().load()) return absl::CancelledError("interrupted");
      if (workers.Running() == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("every local worker exited before the sweep finished; see ",
                         workers.log_paths().front()));
      }
      return absl::OkStatus();
    };
    absl::StatusOr<v1::GetSweepResponse> done = WatchSweep(*client, submitted->sweep_id(), watch);
    workers.Stop(absl::Seconds(10));
    if (!done.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(done.status().message()).c_str());
    }
    finished = done.ok();
  } else {
    finished = true;
  }
  int code = PrintResultsTable(*client, submitted->sweep_id(), options.table, options.format);
  if (ReportUnfinished(*client, submitted->sweep_id()) > 0 || !finished) code = kExitFailure;
  (*server)->Shutdown();
  if (options.db_path.empty()) {
    std::fprintf(stderr, "(the database was temporary; pass --db FILE to keep results)\n");
  } else {
    std::fprintf(stderr, "results kept in %s\n", options.db_path.c_str());
  }
  if (code == kExitOk) {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  } else {
    std::fprintf(stderr, "worker logs kept in %s\n", scratch.c_str());
  }
  return code;
}

}  // namespace

int RunSubmit(const SubmitOptions& options) {
  absl::StatusOr<PreparedSubmission> prepared =
      PrepareSubmission(options.grid_path, options.dry_run);
  if (!prepared.ok()) {
    // Grid errors already read `file:line:column: ...`, one per line.
    std::fprintf(stderr, "%s\n", std::string(prepared.status().message()).c_str());
    return kExitUsage;
  }
  if (options.local) return RunLocally(*prepared, options);
  absl::StatusOr<std::unique_ptr<UserClient>> client = UserClient::Connect(options.client);
  if (!client.ok()) return Fail(client.status());
  if (!(*client)->IsServing(absl::Seconds(2))) {
    if (options.coordinator_given) {
      return Fail(absl::UnavailableError(
          absl::StrCat("no coordinator answers at ", options.client.target)));
    }
    std::fprintf(stderr, "no coordinator at %s: running the sweep here (--local)\n",
                 options.client.target.c_str());
    return RunLocally(*prepared, options);
  }
  absl::StatusOr<v1::SubmitSweepResponse> submitted = (*client)->SubmitSweep(prepared->request);
  if (!submitted.ok()) {
    std::fprintf(stderr, "%s\n", std::string(submitted.status().message()).c_str());
    return absl::IsInvalidArgument(submitted.status()) ? kExitUsage : kExitFailure;
  }
  if (options.dry_run) {
    PrintSubmitted(*submitted, " (dry run: nothing submitted)");
    return kExitOk;
  }
  std::cout << submitted->sweep_id() << std::endl;
  PrintSubmitted(*submitted, "");
  if (!options.wait) return kExitOk;
  WatchOptions watch;
  watch.check = []() -> absl::Status {
    return Interrupted().load() ? absl::CancelledError("stopped waiting (the sweep goes on)")
                                : absl::OkStatus();
  };
  absl::StatusOr<v1::GetSweepResponse> done =
      WatchSweep(**client, submitted->sweep_id(), watch);
  if (!done.ok()) return Fail(done.status());
  const SweepCounts counts = CountsOf(done->summary());
  std::fprintf(stderr, "sweep %lld finished: %lld succeeded, %lld failed, %lld cancelled\n",
               static_cast<long long>(submitted->sweep_id()),
               static_cast<long long>(counts.succeeded), static_cast<long long>(counts.failed),
               static_cast<long long>(counts.cancelled));
  ReportUnfinished(**client, submitted->sweep_id());
  return counts.failed + counts.cancelled > 0 ? kExitFailure : kExitOk;
}

}  // namespace llmq
