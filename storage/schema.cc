#include "storage/schema.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status.h"

namespace llmq {
namespace {

// Version 1: the tables. Every lease and report rewrites the b-trees it touches, so the
// hot path touches few: the queue index holds only PENDING jobs (a lease removes one entry,
// a report touches none), attempts is keyed by (job_id, attempt) alone, lease ids are not
// indexed (the fence compares them on the job's row), and the affinity index holds only
// quant_key, which never changes. Times are Unix milliseconds (`*_ms`); enum-valued
// columns hold the proto enum names ('PENDING', 'OUT_OF_MEMORY'); JSON columns hold objects.
constexpr char kTablesV1[] = R"sql(
CREATE TABLE sweeps (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  grid_yaml   TEXT NOT NULL,
  grid_path   TEXT NOT NULL DEFAULT '',
  created_ms  INTEGER NOT NULL
);

CREATE TABLE jobs (
  id                   INTEGER PRIMARY KEY,
  sweep_id             INTEGER NOT NULL REFERENCES sweeps(id),
  job_key              TEXT NOT NULL UNIQUE,
  quant_key            TEXT NOT NULL DEFAULT '',
  state                TEXT NOT NULL CHECK (state IN
                         ('PENDING','LEASED','RUNNING','SUCCEEDED','FAILED','CANCELLED')),
  priority             INTEGER NOT NULL DEFAULT 0,
  attempts             INTEGER NOT NULL DEFAULT 0,
  failures             INTEGER NOT NULL DEFAULT 0,
  max_attempts         INTEGER NOT NULL,
  worker_deaths        INTEGER NOT NULL DEFAULT 0,
  device               TEXT NOT NULL DEFAULT 'any',
  memory_bytes         INTEGER NOT NULL DEFAULT 0,
  timeout_seconds      INTEGER NOT NULL DEFAULT 0,
  model                TEXT NOT NULL,
  model_path           TEXT NOT NULL,
  dtype                TEXT NOT NULL DEFAULT '',
  method               TEXT NOT NULL,
  method_params        TEXT NOT NULL DEFAULT '{}',
  task                 TEXT NOT NULL,
  task_params          TEXT NOT NULL DEFAULT '{}',
  calibration          TEXT NOT NULL DEFAULT '{}',
  repeat               INTEGER NOT NULL DEFAULT 0,
  spec                 BLOB NOT NULL,
  lease_id             TEXT,
  lease_worker         TEXT,
  lease_expires_ms     INTEGER,
  next_eligible_ms     INTEGER NOT NULL DEFAULT 0,
  memory_hint_bytes    INTEGER NOT NULL DEFAULT 0,
  memory_hint_until_ms INTEGER NOT NULL DEFAULT 0,
  progress_stage       TEXT NOT NULL DEFAULT '',
  progress_step        INTEGER NOT NULL DEFAULT 0,
  progress_total       INTEGER NOT NULL DEFAULT 0,
  progress_message     TEXT NOT NULL DEFAULT '',
  error                TEXT NOT NULL DEFAULT '',
  error_class          TEXT NOT NULL DEFAULT '',
  created_ms           INTEGER NOT NULL,
  updated_ms           INTEGER NOT NULL,
  started_ms           INTEGER,
  finished_ms          INTEGER
);
CREATE INDEX jobs_queue ON jobs(priority DESC, next_eligible_ms, id) WHERE state = 'PENDING';
CREATE INDEX jobs_affinity ON jobs(quant_key);
CREATE INDEX jobs_leases ON jobs(lease_expires_ms) WHERE lease_id IS NOT NULL;
CREATE INDEX jobs_sweep ON jobs(sweep_id);

CREATE TABLE sweep_jobs (
  sweep_id  INTEGER NOT NULL REFERENCES sweeps(id),
  job_id    INTEGER NOT NULL REFERENCES jobs(id),
  PRIMARY KEY (sweep_id, job_id)
) WITHOUT ROWID;
CREATE INDEX sweep_jobs_job ON sweep_jobs(job_id);

CREATE TABLE attempts (
  job_id             INTEGER NOT NULL REFERENCES jobs(id),
  attempt            INTEGER NOT NULL,
  lease_id           TEXT NOT NULL,
  worker_id          TEXT NOT NULL,
  free_memory_bytes  INTEGER NOT NULL DEFAULT 0,
  leased_ms          INTEGER NOT NULL,
  started_ms         INTEGER,
  ended_ms           INTEGER,
  outcome            TEXT NOT NULL DEFAULT 'OPEN',
  error_class        TEXT NOT NULL DEFAULT '',
  error              TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

CREATE TABLE workers (
  id             TEXT PRIMARY KEY,
  host           TEXT NOT NULL,
  devices        TEXT NOT NULL DEFAULT '[]',
  memory_bytes   INTEGER NOT NULL DEFAULT 0,
  labels         TEXT NOT NULL DEFAULT '{}',
  version        TEXT NOT NULL DEFAULT '',
  state          TEXT NOT NULL DEFAULT 'active',
  registered_ms  INTEGER NOT NULL,
  last_seen_ms   INTEGER NOT NULL
);

CREATE TABLE results (
  job_id        INTEGER PRIMARY KEY REFERENCES jobs(id),
  attempt       INTEGER NOT NULL,
  worker_id     TEXT NOT NULL,
  finished_ms   INTEGER NOT NULL,
  wall_seconds  REAL NOT NULL DEFAULT 0,
  provenance    TEXT NOT NULL DEFAULT '{}',
  timings       TEXT NOT NULL DEFAULT '{}',
  result        BLOB NOT NULL
);

CREATE TABLE metrics (
  job_id  INTEGER NOT NULL REFERENCES results(job_id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  value   REAL,
  unit    TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, name)
) WITHOUT ROWID;
)sql";

// Version 2: read-only views for analysts, and the registry of names that the generated
// pivot view `v_jobs` turns into columns (backfilled from version-1 data).
constexpr char kViewsV2[] = R"sql(
CREATE TABLE pivot_columns (
  kind  TEXT NOT NULL CHECK (kind IN ('method_param','task_param','metric')),
  name  TEXT NOT NULL,
  PRIMARY KEY (kind, name)
) WITHOUT ROWID;
INSERT OR IGNORE INTO pivot_columns
  SELECT DISTINCT 'method_param', p.key FROM jobs j, json_each(j.method_params) p;
INSERT OR IGNORE INTO pivot_columns
  SELECT DISTINCT 'task_param', p.key FROM jobs j, json_each(j.task_params) p;
INSERT OR IGNORE INTO pivot_columns SELECT DISTINCT 'metric', name FROM metrics;

CREATE VIEW v_results_long AS
SELECT sj.sweep_id, s.name AS sweep, j.id AS job_id, j.job_key, j.model, j.dtype,
       j.method, j.method_params, j.task, j.task_params, j.repeat,
       m.name AS metric, m.value, m.unit, r.worker_id,
       datetime(r.finished_ms / 1000, 'unixepoch') AS finished_at
FROM sweep_jobs sj
JOIN sweeps s ON s.id = sj.sweep_id
JOIN jobs j ON j.id = sj.job_id
JOIN results r ON r.job_id = j.id
JOIN metrics m ON m.job_id = j.id;

CREATE VIEW v_job_params AS
SELECT j.id AS job_id, 'method' AS axis, p.key AS name, p.value AS value
FROM jobs j, json_each(j.method_params) p
UNION ALL
SELECT j.id, 'task', p.key, p.value FROM jobs j, json_each(j.task_params) p;
)sql";

// Version 3: per-example scores (one blob per result, the serialized ExampleScores message
// of proto/llmq.proto, with the number of examples it holds), each metric's bootstrap
// interval beside its value, and each job's predicted wall time at submission. Older
// results have none of them (NULL intervals and predictions, no scores row).
constexpr char kExampleScoresV3[] = R"sql(
ALTER TABLE jobs ADD COLUMN predicted_seconds REAL;
ALTER TABLE metrics ADD COLUMN ci_low REAL;
ALTER TABLE metrics ADD COLUMN ci_high REAL;

CREATE TABLE example_scores (
  job_id    INTEGER PRIMARY KEY REFERENCES results(job_id) ON DELETE CASCADE,
  examples  INTEGER NOT NULL,
  scores    BLOB NOT NULL
);

DROP VIEW v_results_long;
CREATE VIEW v_results_long AS
SELECT sj.sweep_id, s.name AS sweep, j.id AS job_id, j.job_key, j.model, j.dtype,
       j.method, j.method_params, j.task, j.task_params, j.repeat,
       m.name AS metric, m.value, m.unit, m.ci_low, m.ci_high, r.worker_id,
       datetime(r.finished_ms / 1000, 'unixepoch') AS finished_at
FROM sweep_jobs sj
JOIN sweeps s ON s.id = sj.sweep_id
JOIN jobs j ON j.id = sj.job_id
JOIN results r ON r.job_id = j.id
JOIN metrics m ON m.job_id = j.id;
)sql";

// Version 4: the Slurm job each worker runs in (NULL outside Slurm; the array columns
// NULL outside a job array), so `llmq-coord workers` can name the task to scancel.
constexpr char kSlurmWorkersV4[] = R"sql(
ALTER TABLE workers ADD COLUMN slurm_job_id INTEGER;
ALTER TABLE workers ADD COLUMN slurm_array_job_id INTEGER;
ALTER TABLE workers ADD COLUMN slurm_array_task_id INTEGER;
)sql";

struct Migration {
  int version;
  const char* description;
  std::function<absl::Status(sqlite::Connection&)> apply;
};

const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "tables", [](sqlite::Connection& c) { return c.Exec(kTablesV1); }},
      {2, "analyst views",
       [](sqlite::Connection& c) {
         LLMQ_RETURN_IF_ERROR(c.Exec(kViewsV2));
         return RegenerateJobsView(c);
       }},
      {3, "per-example scores and metric intervals",
       [](sqlite::Connection& c) { return c.Exec(kExampleScoresV3); }},
      {4, "workers' Slurm job ids",
       [](sqlite::Connection& c) { return c.Exec(kSlurmWorkersV4); }},
  };
  return *migrations;
}

std::string QuoteIdentifier(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

std::string QuoteLiteral(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

// A JSON path selecting `key` from an object: $."key".
std::string JsonPath(absl::string_view key) {
  return QuoteLiteral(absl::StrCat("$.\"", key, "\""));
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

absl::StatusOr<int> SchemaVersion(sqlite::Connection& connection) {
  LLMQ_ASSIGN_OR_RETURN(sqlite::Statement statement, connection.Prepare("PRAGMA user_version"));
  LLMQ_ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(statement.Int(0));
}

absl::Status MigrateSchema(sqlite::Connection& connection, int target_version) {
  const int latest = LatestSchemaVersion();
  if (target_version < 0) target_version = latest;
  LLMQ_ASSIGN_OR_RETURN(int version, SchemaVersion(connection));
  if (version > latest) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", version, " is newer than this llmq's (", latest,
        "); use a newer llmq-coord"));
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= version || migration.version > target_version) continue;
    LLMQ_ASSIGN_OR_RETURN(sqlite::Transaction txn,
                          sqlite::Transaction::Begin(&connection,
                                                     sqlite::Transaction::Kind::kImmediate));
    LLMQ_RETURN_IF_ERROR(Annotate(migration.apply(connection),
                                  absl::StrCat("schema migration ", migration.version)));
    LLMQ_RETURN_IF_ERROR(
        connection.Exec(absl::StrCat("PRAGMA user_version = ", migration.version)));
    LLMQ_RETURN_IF_ERROR(txn.Commit());
    LOG(INFO) << "event=schema_migrated version=" << migration.version << " what=\""
              << migration.description << "\"";
  }
  connection.ClearStatementCache();
  return absl::OkStatus();
}

absl::Status RegenerateJobsView(sqlite::Connection& connection) {
  // Base columns first; generated columns never shadow them.
  std::set<std::string> taken = {
      "sweep_id", "sweep", "job_id", "job_key", "quant_key", "state", "model", "dtype",
      "method", "task", "repeat", "attempts", "error_class", "error", "worker_id",
      "finished_at", "wall_seconds", "metrics", "method_params", "task_params"};
  std::vector<std::string> method_columns, task_columns, metric_columns;
  {
    LLMQ_ASSIGN_OR_RETURN(
        sqlite::Statement names,
        connection.Prepare("SELECT kind, name FROM pivot_columns ORDER BY kind, name"));
    while (true) {
      LLMQ_ASSIGN_OR_RETURN(bool row, names.Step());
      if (!row) break;
      std::string kind = names.Text(0), name = names.Text(1);
      if (name.empty() || name.find('"') != std::string::npos) continue;
      if (kind == "method_param") {
        std::string column = taken.count(name) ? absl::StrCat("method_", name) : name;
        if (!taken.insert(column).second) continue;
        method_columns.push_back(absl::StrCat("json_extract(j.method_params, ", JsonPath(name),
                                              ") AS ", QuoteIdentifier(column)));
      } else if (kind == "task_param") {
        std::string column = absl::StrCat("task_", name);
        if (!taken.insert(column).second) continue;
        task_columns.push_back(absl::StrCat("json_extract(j.task_params, ", JsonPath(name),
                                            ") AS ", QuoteIdentifier(column)));
      } else {
        std::string column = taken.count(name) ? absl::StrCat("metric_", name) : name;
        if (!taken.insert(column).second) continue;
        metric_columns.push_back(absl::StrCat(
            "(SELECT value FROM metrics m WHERE m.job_id = j.id AND m.name = ",
            QuoteLiteral(name), ") AS ", QuoteIdentifier(column)));
      }
    }
  }
  auto with_comma = [](const std::vector<std::string>& columns) {
    return columns.empty() ? std::string() : absl::StrCat(absl::StrJoin(columns, ",\n  "), ",\n  ");
  };
  std::string sql = absl::StrCat(
      "DROP VIEW IF EXISTS v_jobs;\n"
      "CREATE VIEW v_jobs AS SELECT\n"
      "  sj.sweep_id, s.name AS sweep, j.id AS job_id, j.job_key, j.quant_key, j.state,\n"
      "  j.model, j.dtype, j.method,\n  ",
      with_comma(method_columns), "j.task,\n  ", with_comma(task_columns),
      "j.repeat, j.attempts, j.error_class, j.error, r.worker_id,\n"
      "  datetime(r.finished_ms / 1000, 'unixepoch') AS finished_at, r.wall_seconds,\n  ",
      with_comma(metric_columns),
      "(SELECT json_group_object(m.name, m.value) FROM metrics m WHERE m.job_id = j.id)"
      " AS metrics,\n"
      "  j.method_params, j.task_params\n"
      "FROM sweep_jobs sj\n"
      "JOIN sweeps s ON s.id = sj.sweep_id\n"
      "JOIN jobs j ON j.id = sj.job_id\n"
      "LEFT JOIN results r ON r.job_id = j.id");
  return connection.Exec(sql);
}

}  // namespace llmq
