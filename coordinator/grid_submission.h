// From a grid file to a submitted sweep, on both sides of the wire. The client parses,
// hashes the files the grid names and expands it (so that every error is reported as
// `file:line:column: ...` before anything is sent); the coordinator parses and expands the
// same text again with the client's identities, trusting nothing but its own expansion.
#ifndef LLMQ_COORDINATOR_GRID_SUBMISSION_H_
#define LLMQ_COORDINATOR_GRID_SUBMISSION_H_

#include <string>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "proto/llmq.pb.h"

namespace llmq {

struct PreparedSubmission {
  v1::SubmitSweepRequest request;
  std::string sweep_name;
  int64_t jobs = 0;  // how many jobs the grid expands to
};

// Client side: reads and checks `grid_path`, computes the identities of its files and
// expands it. InvalidArgument (one line per problem) for a bad grid; NotFound for a
// missing file.
absl::StatusOr<PreparedSubmission> PrepareSubmission(const std::string& grid_path,
                                                     bool dry_run);

// Coordinator side: the request's grid, expanded into jobs.
absl::StatusOr<SweepSubmission> ExpandSubmission(const v1::SubmitSweepRequest& request);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_GRID_SUBMISSION_H_
