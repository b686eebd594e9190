// A thin, Status-returning layer over SQLite's C API: one connection with its prepared
// statements cached by SQL text, a statement handle that resets itself when it goes out
// of scope, and an RAII transaction. A Connection is not thread-safe: its owner
// serialises every use (Store holds one mutex per connection).
#ifndef LLMQ_STORAGE_SQLITE_H_
#define LLMQ_STORAGE_SQLITE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace llmq::sqlite {

// Bytes bound as a BLOB (a plain string binds as TEXT).
struct Blob {
  absl::string_view bytes;
};

// A prepared statement borrowed from its Connection's cache. Bind, then Step or Run.
// Destruction resets it and clears its bindings, so the next user starts fresh.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binds parameters 1..n in order. Accepts integers, bool, double, strings, Blob,
  // std::nullopt and std::optional of those.
  template <typename... Args>
  Statement& BindAll(const Args&... args) {
    int index = 1;
    (Bind(index++, args), ...);
    return *this;
  }
  void Bind(int index, int64_t value);
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, bool value) { Bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  void Bind(int index, double value);
  void Bind(int index, absl::string_view text);
  void Bind(int index, const std::string& text) { Bind(index, absl::string_view(text)); }
  void Bind(int index, const char* text) { Bind(index, absl::string_view(text)); }
  void Bind(int index, Blob blob);
  void Bind(int index, std::nullopt_t);
  template <typename T>
  void Bind(int index, const std::optional<T>& value) {
    if (value.has_value()) {
      Bind(index, *value);
    } else {
      Bind(index, std::nullopt);
    }
  }

  // Advances to the next row: true when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps until done; for statements whose rows (if any) are not needed.
  absl::Status Run();

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;  // "" for NULL
  std::string Bytes(int column) const;  // BLOB or TEXT bytes

 private:
  friend class Connection;
  Statement(sqlite3_stmt* stmt, absl::string_view sql_head, bool* in_use)
      : stmt_(stmt), in_use_(in_use), sql_head_(sql_head) {}
  absl::Status BindError() const;

  sqlite3_stmt* stmt_;
  bool* in_use_;          // the cache entry's flag; null: not cached, finalise on destruction
  std::string sql_head_;  // the SQL's first characters, for error messages
  int bind_error_ = 0;    // first failing bind's result code
};

// One SQLite connection. Errors name the statement and SQLite's message; busy/locked
// become kUnavailable, constraint violations kAlreadyExists.
class Connection {
 public:
  enum class Mode { kReadWriteCreate, kReadOnly };

  // Opens `path` and applies the pragmas every llmq connection uses: WAL journal,
  // synchronous=NORMAL, foreign keys, and `busy_timeout`.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& path, Mode mode,
                                                          absl::Duration busy_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows needed by the caller.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement through the statement cache (for statements run very often).
  absl::Status Run(absl::string_view sql);
  // A prepared statement for `sql`, from the cache when no other live Statement uses it.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // Drops every cached statement (after schema changes that statements depend on).
  void ClearStatementCache();

  int64_t changes() const;
  // False in autocommit mode, including after SQLite rolled a transaction back by itself
  // (some I/O and out-of-memory errors do).
  bool InTransaction() const;
  int64_t last_insert_rowid() const;
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  struct Cached {
    sqlite3_stmt* stmt;
    std::unique_ptr<bool> in_use;  // stable address shared with the borrowing Statement
  };
  std::map<std::string, Cached, std::less<>> cache_;
};

// BEGIN IMMEDIATE (or deferred for readers) on construction through Begin; rolls back
// on destruction unless committed.
class Transaction {
 public:
  enum class Kind { kImmediate, kDeferred };
  static absl::StatusOr<Transaction> Begin(Connection* connection, Kind kind);
  Transaction(Transaction&& other) noexcept
      : connection_(std::exchange(other.connection_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  explicit Transaction(Connection* connection) : connection_(connection) {}
  Connection* connection_;  // null once committed or rolled back
};

// Maps a SQLite result code and message to a Status with `context`.
absl::Status SqliteError(int code, absl::string_view message, absl::string_view context);

}  // namespace llmq::sqlite

#endif  // LLMQ_STORAGE_SQLITE_H_
