// The database schema and its forward-only migrations. The schema's version lives in
// `PRAGMA user_version`; opening a database applies, in one transaction each, every
// migration above its version. A database newer than this binary is refused, never
// downgraded. README.md ("Where results go") documents the tables and views for analysts.
#ifndef LLMQ_STORAGE_SCHEMA_H_
#define LLMQ_STORAGE_SCHEMA_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/sqlite.h"

namespace llmq {

// The version a fully migrated database has.
int LatestSchemaVersion();

// The database's `user_version` (0 for a new, empty file).
absl::StatusOr<int> SchemaVersion(sqlite::Connection& connection);

// Applies the migrations after the current version, up to `target_version`
// (LatestSchemaVersion() by default). Tests use a lower target to build old files.
absl::Status MigrateSchema(sqlite::Connection& connection, int target_version = -1);

// Rewrites the generated view `v_jobs` from the names in `pivot_columns`: one column per
// method parameter, task parameter (prefixed `task_`) and metric seen so far. Called
// inside the caller's transaction whenever a new name appears.
absl::Status RegenerateJobsView(sqlite::Connection& connection);

}  // namespace llmq

#endif  // LLMQ_STORAGE_SCHEMA_H_
