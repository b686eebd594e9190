#include "storage/store.h"

#include <glog/logging.h>

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
  absl::MutexLock lock(&write_mu_);
  LLMQ_ASSIGN_OR_RETURN(
      sqlite::Transaction txn,
      sqlite::Transaction::Begin(writer_.get(), sqlite::Transaction::Kind::kImmediate));
  WriteTxn write(*writer_, &pivot_names_);
  absl::Status status = fn(write);
  if (status.ok()) status = txn.Commit();
  if (!status.ok()) {
    // The rows behind these names were rolled back with the transaction.
    for (const auto& name : write.added_pivot_names_) pivot_names_.erase(name);
  }
  return status;
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
