// The SQLite store: one database file in WAL mode, migrated to the current schema on
// open. Writes go through a single writer connection, one transaction at a time
// (BEGIN IMMEDIATE under a mutex), so SQLite never has two writers to arbitrate and
// "database is locked" cannot arise between llmq's own threads. Writes that arrive while
// one is committing are grouped into the next transaction (group commit), each in its
// own savepoint, so a burst of leases and reports pays for one commit, not one each.
// Reads use a separate connection and see a consistent snapshot without blocking the
// writer.
//
// Thread-safe: any thread may call Write and Read. The callbacks run on the caller's
// thread while the corresponding connection's mutex is held: keep them short, and never
// call back into the Store from inside one.
#ifndef LLMQ_STORAGE_STORE_H_
#define LLMQ_STORAGE_STORE_H_

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/histogram.h"
#include "storage/read_txn.h"
#include "storage/sqlite.h"
#include "storage/write_txn.h"

namespace llmq {

struct StoreOptions {
  // How long a connection waits for a lock held by another process (an analyst's
  // sqlite3 shell, a checkpoint) before giving up.
  absl::Duration busy_timeout = absl::Seconds(30);
  // How often a background thread copies the WAL back into the database file. Doing it
  // off the writer's path keeps fsyncs out of lease and report latency; the writer
  // still checkpoints by itself should the WAL grow past ~64 MiB.
  absl::Duration checkpoint_interval = absl::Seconds(1);
};

class Store {
 public:
  // Opens or creates the database at `path` and migrates it forward.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `fn` in a write transaction: what it did is committed when it returns OK, and
  // undone (all of it, and nothing else) otherwise. Returns `fn`'s status or the commit's.
  // `fn` may run on another caller's thread (the one committing the group); the call
  // returns once the commit is done.
  absl::Status Write(absl::FunctionRef<absl::Status(WriteTxn&)> fn)
      ABSL_LOCKS_EXCLUDED(write_mu_, queue_mu_);

  // Runs `fn` over one read snapshot.
  absl::Status Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn) ABSL_LOCKS_EXCLUDED(read_mu_);

  const std::string& path() const { return path_; }

  // Writes run and transactions committed so far (writes / commits = the mean group).
  struct WriteStats {
    int64_t writes = 0;
    int64_t commits = 0;
  };
  WriteStats write_stats() ABSL_LOCKS_EXCLUDED(queue_mu_);

  // How long each group's COMMIT took (the fsync of the WAL, mostly), in seconds.
  Histogram::Snapshot commit_seconds() const { return commit_seconds_.Read(); }

 private:
  // A Write waiting to be run by the caller that commits the next group.
  struct PendingWrite {
    absl::FunctionRef<absl::Status(WriteTxn&)> fn;
    absl::Status status;
    bool done = false;
  };

  explicit Store(std::string path) : path_(std::move(path)) {}
  // Runs `group` in one transaction, each in a savepoint, and sets their statuses.
  void CommitGroup(const std::vector<PendingWrite*>& group) ABSL_LOCKS_EXCLUDED(write_mu_);
  void CheckpointUntilStopped(std::unique_ptr<sqlite::Connection> connection,
                              absl::Duration interval);

  const std::string path_;
  absl::Mutex write_mu_;
  std::unique_ptr<sqlite::Connection> writer_ ABSL_GUARDED_BY(write_mu_);
  // Mirror of the pivot_columns table, so that most writes need not query it.
  std::set<std::pair<std::string, std::string>> pivot_names_ ABSL_GUARDED_BY(write_mu_);
  absl::Mutex queue_mu_;
  std::deque<PendingWrite*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;  // a caller is running a group
  int64_t writes_ ABSL_GUARDED_BY(queue_mu_) = 0;       // for the closing log line
  int64_t commits_ ABSL_GUARDED_BY(queue_mu_) = 0;
  absl::Mutex read_mu_;
  std::unique_ptr<sqlite::Connection> reader_ ABSL_GUARDED_BY(read_mu_);
  Histogram commit_seconds_{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  absl::Notification stop_checkpointing_;
  std::thread checkpointer_;  // owns its own connection
};

}  // namespace llmq

#endif  // LLMQ_STORAGE_STORE_H_
