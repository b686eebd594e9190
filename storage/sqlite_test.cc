#include "storage/sqlite.h"

#include "gtest/gtest.h"
#include "storage/test_db.h"

namespace llmq::sqlite {
namespace {

std::unique_ptr<Connection> OpenFresh() {
  auto connection = Connection::Open(FreshDbPath("db"), Connection::Mode::kReadWriteCreate,
                                     absl::Seconds(1));
  EXPECT_TRUE(connection.ok()) << connection.status();
  EXPECT_TRUE((*connection)->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)").ok());
  return std::move(connection).value();
}

int64_t CountRows(Connection& db) {
  auto count = db.Prepare("SELECT COUNT(*) FROM t");
  EXPECT_TRUE(count.ok());
  EXPECT_TRUE(*count->Step());
  return count->Int(0);
}

TEST(StoreSqliteTest, BindsAndReadsEveryType) {
  auto db = OpenFresh();
  ASSERT_TRUE(db->Exec("CREATE TABLE all_types (i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO all_types VALUES (?, ?, ?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  const std::string bytes("a\0b", 3);
  insert->BindAll(int64_t{1} << 40, 2.5, std::string("text"), Blob{bytes}, std::nullopt);
  ASSERT_TRUE(insert->Run().ok());
  auto select = db->Prepare("SELECT i, d, s, b, n FROM all_types");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->Int(0), int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select->Double(1), 2.5);
  EXPECT_EQ(select->Text(2), "text");
  EXPECT_EQ(select->Bytes(3), bytes);
  EXPECT_TRUE(select->IsNull(4));
  EXPECT_FALSE(*select->Step());
}

TEST(StoreSqliteTest, CachedStatementIsResetWhenHandleDies) {
  auto db = OpenFresh();
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 1), ('b', 2)").ok());
  for (int round = 0; round < 3; ++round) {
    auto select = db->Prepare("SELECT k FROM t ORDER BY k");
    ASSERT_TRUE(select.ok());
    ASSERT_TRUE(*select->Step());
    EXPECT_EQ(select->Text(0), "a");  // restarts from the first row every time
  }
}

TEST(StoreSqliteTest, NestedUseOfSameSqlGetsItsOwnStatement) {
  auto db = OpenFresh();
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 1), ('b', 2)").ok());
  auto outer = db->Prepare("SELECT k FROM t ORDER BY k");
  ASSERT_TRUE(outer.ok());
  ASSERT_TRUE(*outer->Step());
  {
    auto inner = db->Prepare("SELECT k FROM t ORDER BY k");
    ASSERT_TRUE(inner.ok());
    ASSERT_TRUE(*inner->Step());
    ASSERT_TRUE(*inner->Step());
    EXPECT_EQ(inner->Text(0), "b");
  }
  EXPECT_EQ(outer->Text(0), "a");  // the outer cursor was not disturbed
  ASSERT_TRUE(*outer->Step());
  EXPECT_EQ(outer->Text(0), "b");
}

TEST(StoreSqliteTest, TransactionRollsBackUnlessCommitted) {
  auto db = OpenFresh();
  {
    auto txn = Transaction::Begin(db.get(), Transaction::Kind::kImmediate);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 1)").ok());
  }
  EXPECT_EQ(CountRows(*db), 0);
  {
    auto txn = Transaction::Begin(db.get(), Transaction::Kind::kImmediate);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 1)").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(CountRows(*db), 1);
}

TEST(StoreSqliteTest, ConstraintViolationIsAlreadyExistsAndNamesTheStatement) {
  auto db = OpenFresh();
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES ('a', 1)").ok());
  auto insert = db->Prepare("INSERT INTO t VALUES (?, ?)");
  ASSERT_TRUE(insert.ok());
  absl::Status status = insert->BindAll("a", 2).Run();
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(status.message().find("INSERT INTO t"), absl::string_view::npos) << status;
}

TEST(StoreSqliteTest, OpenAppliesWalAndForeignKeys) {
  auto db = OpenFresh();
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  auto keys = db->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(*keys->Step());
  EXPECT_EQ(keys->Int(0), 1);
}

}  // namespace
}  // namespace llmq::sqlite
