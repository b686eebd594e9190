#include "storage/schema.h"

#include "common/status.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

std::unique_ptr<sqlite::Connection> OpenRaw(const std::string& path) {
  auto connection = sqlite::Connection::Open(path, sqlite::Connection::Mode::kReadWriteCreate,
                                             absl::Seconds(1));
  EXPECT_TRUE(connection.ok()) << connection.status();
  return std::move(connection).value();
}

// Rows as a version-1 llmq wrote them: a sweep, a succeeded job with parameters, its
// result and a metric.
constexpr char kVersion1Rows[] = R"sql(
INSERT INTO sweeps (id, name, grid_yaml, grid_path, created_ms)
  VALUES (1, 'old-sweep', 'name: old-sweep', 'old.yaml', 1700000000000);
INSERT INTO jobs (id, sweep_id, job_key, quant_key, state, max_attempts, model, model_path,
                  method, method_params, task, task_params, spec, created_ms, updated_ms)
  VALUES (7, 1, 'key-7', 'q-7', 'SUCCEEDED', 3, 'tiny', '/m/tiny', 'rtn',
          '{"bits":4,"group_size":32}', 'ppl', '{"dataset":"wikitext2"}', x'',
          1700000000000, 1700000001000);
INSERT INTO sweep_jobs VALUES (1, 7);
INSERT INTO results (job_id, attempt, worker_id, finished_ms, result)
  VALUES (7, 1, 'w1', 1700000001000, x'');
INSERT INTO metrics VALUES (7, 'ppl', 12.5, '');
)sql";

TEST(StoreSchemaTest, MigratesAVersion1FileAndKeepsItsRows) {
  const std::string path = FreshDbPath("v1");
  {
    auto old = OpenRaw(path);
    ASSERT_TRUE(MigrateSchema(*old, /*target_version=*/1).ok());
    ASSERT_EQ(*SchemaVersion(*old), 1);
    ASSERT_TRUE(old->Exec(kVersion1Rows).ok());
  }
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  store->reset();  // close, then look at the file as an analyst would

  auto db = OpenRaw(path);
  EXPECT_EQ(*SchemaVersion(*db), LatestSchemaVersion());
  auto row = db->Prepare(
      "SELECT sweep, model, method, bits, group_size, task, task_dataset, ppl, state "
      "FROM v_jobs WHERE job_id = 7");
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_TRUE(*row->Step());
  EXPECT_EQ(row->Text(0), "old-sweep");
  EXPECT_EQ(row->Text(1), "tiny");
  EXPECT_EQ(row->Text(2), "rtn");
  EXPECT_EQ(row->Int(3), 4);
  EXPECT_EQ(row->Int(4), 32);
  EXPECT_EQ(row->Text(5), "ppl");
  EXPECT_EQ(row->Text(6), "wikitext2");
  EXPECT_DOUBLE_EQ(row->Double(7), 12.5);
  EXPECT_EQ(row->Text(8), "SUCCEEDED");

  auto long_form = db->Prepare("SELECT metric, value FROM v_results_long WHERE job_id = 7");
  ASSERT_TRUE(long_form.ok());
  ASSERT_TRUE(*long_form->Step());
  EXPECT_EQ(long_form->Text(0), "ppl");
  EXPECT_DOUBLE_EQ(long_form->Double(1), 12.5);
  // Version 3: a result from before intervals has none, and no per-example scores.
  auto interval = db->Prepare(
      "SELECT ci_low IS NULL AND ci_high IS NULL, "
      "(SELECT count(*) FROM example_scores WHERE job_id = 7) FROM v_results_long WHERE job_id = 7");
  ASSERT_TRUE(interval.ok()) << interval.status();
  ASSERT_TRUE(*interval->Step());
  EXPECT_EQ(interval->Int(0), 1);
  EXPECT_EQ(interval->Int(1), 0);

  auto params = db->Prepare(
      "SELECT axis, name, value FROM v_job_params WHERE job_id = 7 ORDER BY axis, name");
  ASSERT_TRUE(params.ok());
  ASSERT_TRUE(*params->Step());
  EXPECT_EQ(params->Text(1), "bits");
}

TEST(StoreSchemaTest, WorkersFromBeforeSlurmIdsMigrateWithNone) {
  const std::string path = FreshDbPath("v3-workers");
  {
    auto old = OpenRaw(path);
    ASSERT_TRUE(MigrateSchema(*old, /*target_version=*/3).ok());
    ASSERT_TRUE(old->Exec("INSERT INTO workers (id, host, registered_ms, last_seen_ms) "
                          "VALUES ('w1', 'node1', 1700000000000, 1700000000000)")
                    .ok());
  }
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)
                  ->Read([](ReadTxn& txn) -> absl::Status {
                    LLMQ_ASSIGN_OR_RETURN(std::vector<WorkerRow> workers, txn.ListWorkers());
                    EXPECT_EQ(workers.size(), 1u);
                    if (workers.empty()) return absl::OkStatus();
                    EXPECT_EQ(workers[0].worker.host, "node1");
                    EXPECT_FALSE(workers[0].worker.slurm.has_value());
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST(StoreSchemaTest, MigratingTwiceChangesNothing) {
  const std::string path = FreshDbPath("twice");
  auto db = OpenRaw(path);
  ASSERT_TRUE(MigrateSchema(*db).ok());
  ASSERT_TRUE(MigrateSchema(*db).ok());
  EXPECT_EQ(*SchemaVersion(*db), LatestSchemaVersion());
}

TEST(StoreSchemaTest, RefusesADatabaseNewerThanThisBinary) {
  const std::string path = FreshDbPath("newer");
  {
    auto db = OpenRaw(path);
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 999").ok());
  }
  auto store = Store::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("newer"), absl::string_view::npos);
}

}  // namespace
}  // namespace llmq
