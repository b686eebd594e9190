// From a grid file to a submitted sweep, on both sides of the wire. The client parses,
// hashes the files the grid names and expands it (so that every error is reported as
// `file:line:column: ...` before anything is sent); the coordinator parses and expands the
// same text again with the client's identities, trusting nothing but its own expansion.
// Both refuse a grid whose cross product exceeds a job limit before expanding anything,
// and neither holds the expanded jobs: the client counts them, the coordinator streams
// them into its transaction.
#ifndef LLMQ_COORDINATOR_GRID_SUBMISSION_H_
#define LLMQ_COORDINATOR_GRID_SUBMISSION_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "grid/grid.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct PreparedSubmission {
  v1::SubmitSweepRequest request;
  std::string sweep_name;
  int64_t jobs = 0;  // how many jobs the grid expands to
};

// Client side: reads and checks `grid_path`, refuses it above `max_jobs` (CheckGridJobLimit,
// as --max_jobs), computes the identities of its files and counts its jobs.
// InvalidArgument (one line per problem) for a bad or too large grid; NotFound for a
// missing file.
absl::StatusOr<PreparedSubmission> PrepareSubmission(const std::string& grid_path,
                                                     bool dry_run,
                                                     int64_t max_jobs = kDefaultMaxGridJobs);

// Coordinator side: the request's grid, parsed and checked against `max_jobs` (as serve's
// --max_jobs); its jobs are expanded as the scheduler takes them.
absl::StatusOr<SweepSubmission> ExpandSubmission(const v1::SubmitSweepRequest& request,
                                                 int64_t max_jobs = kDefaultMaxGridJobs);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_GRID_SUBMISSION_H_
