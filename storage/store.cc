#include "storage/store.h"

#include <glog/logging.h>

#include "absl/time/clock.h"
#include "common/status.h"
#include "storage/schema.h"

namespace llmq {

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store(path));
  LLMQ_ASSIGN_OR_RETURN(
      auto writer, sqlite::Connection::Open(path, sqlite::Connection::Mode::kReadWriteCreate,
                                            options.busy_timeout));
  LLMQ_RETURN_IF_ERROR(Annotate(MigrateSchema(*writer), path));
  std::set<std::pair<std::string, std::string>> pivot_names;
  {
    LLMQ_ASSIGN_OR_RETURN(sqlite::Statement names,
                          writer->Prepare("SELECT kind, name FROM pivot_columns"));
    while (true) {
      LLMQ_ASSIGN_OR_RETURN(bool row, names.Step());
      if (!row) break;
      pivot_names.insert({names.Text(0), names.Text(1)});
    }
  }
  LLMQ_RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint = 16384"));
  LLMQ_ASSIGN_OR_RETURN(
      auto reader, sqlite::Connection::Open(path, sqlite::Connection::Mode::kReadOnly,
                                            options.busy_timeout));
  LLMQ_ASSIGN_OR_RETURN(
      auto checkpointer, sqlite::Connection::Open(path, sqlite::Connection::Mode::kReadWriteCreate,
                                                  options.busy_timeout));
  {
    absl::MutexLock write_lock(&store->write_mu_);
    store->writer_ = std::move(writer);
    store->pivot_names_ = std::move(pivot_names);
  }
  {
    absl::MutexLock read_lock(&store->read_mu_);
    store->reader_ = std::move(reader);
  }
  Store* raw = store.get();
  store->checkpointer_ = std::thread([raw, connection = std::move(checkpointer),
                                      interval = options.checkpoint_interval]() mutable {
    raw->CheckpointUntilStopped(std::move(connection), interval);
  });
  LOG(INFO) << "event=store_opened path=" << path;
  return store;
}

void Store::CheckpointUntilStopped(std::unique_ptr<sqlite::Connection> connection,
                                   absl::Duration interval) {
  while (!stop_checkpointing_.WaitForNotificationWithTimeout(interval)) {
    // PASSIVE never waits for the writer or readers: it copies what it can.
    absl::Status status = connection->Exec("PRAGMA wal_checkpoint(PASSIVE)");
    LOG_IF(WARNING, !status.ok()) << "event=checkpoint_failed error=\"" << status.message()
                                  << "\"";
  }
}

Store::~Store() {
  {
    absl::MutexLock lock(&queue_mu_);
    LOG(INFO) << "event=store_closed path=" << path_ << " writes=" << writes_
              << " commits=" << commits_;
  }
  if (checkpointer_.joinable()) {
    stop_checkpointing_.Notify();
    checkpointer_.join();
  }
  absl::MutexLock read_lock(&read_mu_);
  reader_.reset();
  absl::MutexLock write_lock(&write_mu_);
  // Fold the WAL back into the database so that the file alone is complete.
  if (writer_ != nullptr) (void)writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  writer_.reset();
}

absl::Status Store::Write(absl::FunctionRef<absl::Status(WriteTxn&)> fn) {
  constexpr size_t kMaxGroup = 64;
  PendingWrite mine{fn, absl::OkStatus(), false};
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back(&mine);
  while (true) {
    auto ready = [this, &mine]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return mine.done || !committing_;
    };
    queue_mu_.Await(absl::Condition(&ready));
    if (mine.done) return mine.status;
    // Nobody is committing: this caller commits everything queued (its own write too,
    // unless more than a group's worth came first).
    committing_ = true;
    std::vector<PendingWrite*> group;
    while (!queue_.empty() && group.size() < kMaxGroup) {
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    queue_mu_.Unlock();
    CommitGroup(group);
    queue_mu_.Lock();
    for (PendingWrite* write : group) write->done = true;
    committing_ = false;
    writes_ += static_cast<int64_t>(group.size());
    ++commits_;
  }
}

void Store::CommitGroup(const std::vector<PendingWrite*>& group) {
  absl::MutexLock lock(&write_mu_);
  auto fail_all = [&](const absl::Status& status) {
    for (PendingWrite* write : group) write->status = status;
  };
  absl::StatusOr<sqlite::Transaction> txn =
      sqlite::Transaction::Begin(writer_.get(), sqlite::Transaction::Kind::kImmediate);
  if (!txn.ok()) return fail_all(txn.status());
  const bool alone = group.size() == 1;
  std::vector<std::pair<std::string, std::string>> added_names;
  for (PendingWrite* write : group) {
    // Savepoints isolate each write's failure from the others in the group.
    if (!alone) write->status = writer_->Run("SAVEPOINT write");
    if (!write->status.ok()) return fail_all(write->status);
    WriteTxn txn_view(*writer_, &pivot_names_);
    write->status = write->fn(txn_view);
    if (!writer_->InTransaction()) {
      // SQLite gave up the whole transaction (an I/O error, say): nothing in it stands.
      for (const auto& name : txn_view.added_pivot_names_) pivot_names_.erase(name);
      for (const auto& name : added_names) pivot_names_.erase(name);
      return fail_all(write->status.ok() ? absl::InternalError("transaction lost")
                                         : write->status);
    }
    if (write->status.ok()) {
      added_names.insert(added_names.end(), txn_view.added_pivot_names_.begin(),
                         txn_view.added_pivot_names_.end());
      if (!alone) write->status = writer_->Run("RELEASE write");
    } else {
      for (const auto& name : txn_view.added_pivot_names_) pivot_names_.erase(name);
      if (!alone) {
        absl::Status undone = writer_->Exec("ROLLBACK TO write; RELEASE write");
        if (!undone.ok()) return fail_all(undone);
      }
    }
  }
  if (alone && !group.front()->status.ok()) return;  // the transaction rolls back
  const absl::Time commit_started = absl::Now();
  absl::Status committed = txn->Commit();
  commit_seconds_.Observe(absl::ToDoubleSeconds(absl::Now() - commit_started));
  if (!committed.ok()) {
    for (const auto& name : added_names) pivot_names_.erase(name);
    fail_all(committed);
  }
}

Store::WriteStats Store::write_stats() {
  absl::MutexLock lock(&queue_mu_);
  return WriteStats{writes_, commits_};
}

absl::Status Store::Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn) {
  absl::MutexLock lock(&read_mu_);
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Transaction txn,
      sqlite::Transaction::Begin(reader_.get(), sqlite::Transaction::Kind::kDeferred));
  ReadTxn read(*reader_);
  LLMQ_RETURN_IF_ERROR(fn(read));
  return txn.Commit();
}

}  // namespace llmq
