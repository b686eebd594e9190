#include "storage/sqlite.h"

#include <sqlite3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace llmq::sqlite {
namespace {

constexpr size_t kSqlHeadChars = 72;

std::string SqlHead(absl::string_view sql) {
  std::string head(sql.substr(0, kSqlHeadChars));
  std::replace(head.begin(), head.end(), '\n', ' ');
  return sql.size() > kSqlHeadChars ? absl::StrCat(head, "...") : head;
}

}  // namespace

absl::Status SqliteError(int code, absl::string_view message, absl::string_view context) {
  std::string text = absl::StrCat("sqlite: ", message, " (", sqlite3_errstr(code), ") in ",
                                  context);
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(text);
    case SQLITE_CANTOPEN:
    case SQLITE_NOTFOUND:
      return absl::NotFoundError(text);
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InternalError(text);
  }
}

// ---------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      sql_head_(std::move(other.sql_head_)),
      bind_error_(other.bind_error_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (in_use_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::Bind(int index, absl::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT,
                               SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::Bind(int index, Blob blob) {
  int rc = sqlite3_bind_blob64(stmt_, index, blob.bytes.data(), blob.bytes.size(),
                               SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

void Statement::Bind(int index, std::nullopt_t) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

absl::Status Statement::BindError() const {
  return SqliteError(bind_error_, "bind failed", sql_head_);
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_error_ != 0) return BindError();
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, sqlite3_errmsg(sqlite3_db_handle(stmt_)), sql_head_);
}

absl::Status Statement::Run() {
  while (true) {
    LLMQ_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

std::string Statement::Bytes(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return "";
  return std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column));
}

// ---------------------------------------------------------------------------------------
// Connection

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const std::string& path, Mode mode,
                                                            absl::Duration busy_timeout) {
  // Memory statistics cost a global mutex on every allocation; llmq never reads them.
  // (Possible only before SQLite initialises; if it already has, this is a no-op.)
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  int flags = SQLITE_OPEN_NOMUTEX;  // the owner serialises access
  flags |= mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY
                                   : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return SqliteError(rc, message, absl::StrCat("opening ", path));
  }
  std::unique_ptr<Connection> connection(new Connection(db));
  sqlite3_busy_timeout(db, static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
  sqlite3_extended_result_codes(db, 1);
  if (mode == Mode::kReadWriteCreate) {
    LLMQ_RETURN_IF_ERROR(connection->Exec("PRAGMA journal_mode=WAL"));
  }
  LLMQ_RETURN_IF_ERROR(connection->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
  sqlite3_free(error);
  return SqliteError(rc, message, SqlHead(sql));
}

absl::StatusOr<Statement> Connection::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !*it->second.in_use) {
    *it->second.in_use = true;
    return Statement(it->second.stmt, SqlHead(sql), it->second.in_use.get());
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, sqlite3_errmsg(db_), SqlHead(sql));
  if (it != cache_.end()) return Statement(stmt, SqlHead(sql), nullptr);  // nested use
  auto in_use = std::make_unique<bool>(true);
  bool* flag = in_use.get();
  cache_.emplace(std::string(sql), Cached{stmt, std::move(in_use)});
  return Statement(stmt, SqlHead(sql), flag);
}

void Connection::ClearStatementCache() {
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (*it->second.in_use) {
      ++it;
      continue;
    }
    sqlite3_finalize(it->second.stmt);
    it = cache_.erase(it);
  }
}

int64_t Connection::changes() const { return sqlite3_changes64(db_); }

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

// ---------------------------------------------------------------------------------------
// Transaction

absl::Status Connection::Run(absl::string_view sql) {
  LLMQ_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
  return statement.Run();
}

namespace {

// BEGIN/COMMIT/ROLLBACK run on every write, so they go through the statement cache.
absl::Status RunCached(Connection* connection, absl::string_view sql) {
  return connection->Run(sql);
}

}  // namespace

absl::StatusOr<Transaction> Transaction::Begin(Connection* connection, Kind kind) {
  LLMQ_RETURN_IF_ERROR(
      RunCached(connection, kind == Kind::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(connection);
}

Transaction::~Transaction() {
  if (connection_ != nullptr) (void)RunCached(connection_, "ROLLBACK");
}

absl::Status Transaction::Commit() {
  Connection* connection = std::exchange(connection_, nullptr);
  if (connection == nullptr) return absl::FailedPreconditionError("transaction already ended");
  absl::Status status = RunCached(connection, "COMMIT");
  if (!status.ok()) (void)RunCached(connection, "ROLLBACK");
  return status;
}

}  // namespace llmq::sqlite
