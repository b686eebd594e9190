// The coordinator over the wire: a real gRPC server on loopback, real stubs.
#include <cstdlib>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/version.h"
#include "coordinator/grid_submission.h"
#include "coordinator/server.h"
#include "coordinator/test_util.h"
#include "coordinator/user_client.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "grid/values.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

constexpr char kToken[] = "s3cret-token";

// A grid of three quick jobs on the bundled model (tests run from the source root).
std::string WriteGrid(const std::string& name, const std::string& extra = "") {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name, ".yaml");
  const std::string model = MakeAbsolutePath("assets/models/stories260K");
  EXPECT_TRUE(WriteFileAtomically(path, absl::StrCat("name: ", name, "\n",
                                                     "models:\n  - name: tiny\n    path: ", model,
                                                     "\nmethods:\n  - none\n  - name: rtn\n"
                                                     "    bits: [4, 3]\n"
                                                     "tasks:\n  - name: ppl\n    limit: 2\n",
                                                     extra))
                  .ok());
  return path;
}

class CoordServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.db_path = FreshDbPath("coord");
    options.listen = "127.0.0.1:0";
    options.token = kToken;
    options.lease_recheck = absl::Seconds(30);  // wake-ups must come from Wake(), not polling
    auto server = CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    worker_stub_ = v1::LlmqWorker::NewStub(channel_);
    user_stub_ = v1::LlmqUser::NewStub(channel_);
  }

  void Authorize(grpc::ClientContext* context, const std::string& token = kToken) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }

  std::unique_ptr<UserClient> User(const std::string& token = kToken) {
    ClientOptions options;
    options.target = server_->address();
    options.token = token;
    return std::move(UserClient::Connect(options)).value();
  }

  std::string RegisterWorker() {
    grpc::ClientContext context;
    Authorize(&context);
    v1::RegisterRequest request;
    request.set_host("loopback");
    request.add_devices("cpu");
    request.set_protocol_version(kProtocolVersion);
    v1::RegisterResponse response;
    grpc::Status status = worker_stub_->Register(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.worker_id();
  }

  v1::LeaseResponse Lease(const std::string& worker, int wait_seconds) {
    grpc::ClientContext context;
    Authorize(&context);
    v1::LeaseRequest request;
    request.set_worker_id(worker);
    request.set_wait_seconds(wait_seconds);
    v1::LeaseResponse response;
    grpc::Status status = worker_stub_->Lease(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Report(const v1::ReportRequest& request, v1::ReportResponse* response) {
    grpc::ClientContext context;
    Authorize(&context);
    return worker_stub_->Report(&context, request, response);
  }

  int64_t SubmitGrid(const std::string& name) {
    auto prepared = PrepareSubmission(WriteGrid(name), /*dry_run=*/false);
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    auto submitted = User()->SubmitSweep(prepared->request);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    return submitted.ok() ? submitted->sweep_id() : 0;
  }

  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LlmqWorker::Stub> worker_stub_;
  std::unique_ptr<v1::LlmqUser::Stub> user_stub_;
};

TEST_F(CoordServiceTest, SubmitLeaseAndFencedReportOverTheWire) {
  const int64_t sweep = SubmitGrid("wire");
  ASSERT_GT(sweep, 0);
  std::string worker = RegisterWorker();
  v1::LeaseResponse leased = Lease(worker, 0);
  ASSERT_TRUE(leased.has_lease());
  EXPECT_EQ(leased.lease().spec().model().alias(), "tiny");
  EXPECT_EQ(leased.lease().spec().job_key().size(), 64u);

  v1::ReportRequest report;
  report.set_worker_id(worker);
  report.set_lease_id(leased.lease().lease_id());
  report.set_job_id(leased.lease().job_id());
  report.set_attempt(leased.lease().attempt());
  report.set_outcome(v1::REPORT_SUCCEEDED);
  *report.mutable_result() = MakeResult(7.25);
  v1::ReportResponse response;
  ASSERT_TRUE(Report(report, &response).ok());
  EXPECT_EQ(response.status(), v1::RECORDED);
  ASSERT_TRUE(Report(report, &response).ok());
  EXPECT_EQ(response.status(), v1::DUPLICATE);
  report.set_lease_id("not-the-lease");
  ASSERT_TRUE(Report(report, &response).ok());
  EXPECT_EQ(response.status(), v1::STALE);

  v1::QueryResultsRequest query;
  query.set_sweep_id(sweep);
  auto results = User()->QueryResults(query);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->rows_size(), 1);
  EXPECT_EQ(results->rows(0).result().metrics(0).value(), 7.25);
  auto summary = User()->GetSweep(sweep);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->summary().jobs_total(), 3);
  EXPECT_EQ(summary->summary().jobs_by_state().at("SUCCEEDED"), 1);
}

TEST_F(CoordServiceTest, CallsWithoutTheRightTokenAreUnauthenticated) {
  for (const std::string& token : {std::string(), std::string("wrong-token")}) {
    grpc::ClientContext context;
    if (!token.empty()) Authorize(&context, token);
    v1::RegisterRequest request;
    request.set_protocol_version(kProtocolVersion);
    v1::RegisterResponse response;
    EXPECT_EQ(worker_stub_->Register(&context, request, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    auto sweeps = User(token)->ListSweeps();
    EXPECT_EQ(sweeps.status().code(), absl::StatusCode::kUnauthenticated) << token;
  }
  EXPECT_TRUE(User()->ListSweeps().ok());
  // Health checks need no token.
  EXPECT_TRUE(IsServing(channel_, absl::Seconds(5)));
}

TEST_F(CoordServiceTest, LongPolledLeaseWakesWhenASweepArrives) {
  std::string worker = RegisterWorker();
  v1::LeaseResponse leased;
  absl::Time answered;
  std::thread poll([&] {
    leased = Lease(worker, 20);
    answered = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time submitted = absl::Now();
  SubmitGrid("wake");
  poll.join();
  EXPECT_TRUE(leased.has_lease());
  EXPECT_LT(answered - submitted, absl::Seconds(5));  // not the 20 s the poll allowed
}

TEST_F(CoordServiceTest, LongPollWithNothingToDoAnswersEmptyAtItsDeadline) {
  std::string worker = RegisterWorker();
  const absl::Time start = absl::Now();
  v1::LeaseResponse leased = Lease(worker, 1);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_FALSE(leased.has_lease());
  EXPECT_GE(waited, absl::Milliseconds(900));
  EXPECT_LT(waited, absl::Seconds(5));
}

TEST_F(CoordServiceTest, ClientThatGivesUpLeavesNothingParked) {
  std::string worker = RegisterWorker();
  grpc::ClientContext context;
  Authorize(&context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300)));
  v1::LeaseRequest request;
  request.set_worker_id(worker);
  request.set_wait_seconds(30);
  v1::LeaseResponse response;
  EXPECT_EQ(worker_stub_->Lease(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server hears of the cancellation and answers the parked call; a later submit
  // leases nothing to the departed client.
  absl::SleepFor(absl::Milliseconds(500));
  SubmitGrid("after-cancel");
  v1::ListJobsRequest jobs;
  jobs.add_states(v1::LEASED);
  auto leased = User()->ListJobs(jobs);
  ASSERT_TRUE(leased.ok());
  EXPECT_EQ(leased->jobs_size(), 0);
}

TEST_F(CoordServiceTest, BadGridIsInvalidArgumentWithItsLocation) {
  auto prepared = PrepareSubmission(WriteGrid("bad"), false);
  ASSERT_TRUE(prepared.ok());
  v1::SubmitSweepRequest request = prepared->request;
  request.set_grid_yaml(absl::StrCat(request.grid_yaml(), "repeats: many\n"));
  auto submitted = User()->SubmitSweep(request);
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(submitted.status().message().find("bad.yaml:"), absl::string_view::npos)
      << submitted.status();
  auto sweeps = User()->ListSweeps();
  EXPECT_EQ(sweeps->sweeps_size(), 0);  // nothing written
}

TEST_F(CoordServiceTest, AGridErrorKnownOnlyAfterItsJobsWritesNothing) {
  // A client that skipped its own check: the coordinator finds the unused filter after
  // expanding (and inserting) every job, and the transaction goes.
  auto prepared = PrepareSubmission(WriteGrid("late"), false);
  ASSERT_TRUE(prepared.ok());
  v1::SubmitSweepRequest request = prepared->request;
  request.set_grid_yaml(absl::StrCat(request.grid_yaml(), "exclude:\n  - {bits: 2}\n"));
  auto submitted = User()->SubmitSweep(request);
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(submitted.status().message(),
                                "late.yaml:13:5: exclude: this entry matches no job"))
      << submitted.status();
  EXPECT_EQ(User()->ListSweeps()->sweeps_size(), 0);
  EXPECT_EQ(User()->ListJobs({})->jobs_size(), 0);
}

TEST(CoordServiceLimitTest, CoordinatorRefusesGridsAboveItsMaxJobs) {
  ServerOptions options;
  options.db_path = FreshDbPath("limit");
  options.listen = "127.0.0.1:0";
  options.max_jobs = 2;
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ClientOptions client_options;
  client_options.target = (*server)->address();
  std::unique_ptr<UserClient> user = std::move(UserClient::Connect(client_options)).value();
  // The client's own limit (the default) lets the three jobs through; the coordinator's not.
  auto prepared = PrepareSubmission(WriteGrid("limit"), false);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  for (bool dry_run : {true, false}) {
    v1::SubmitSweepRequest request = prepared->request;
    request.set_dry_run(dry_run);
    auto submitted = user->SubmitSweep(request);
    EXPECT_EQ(submitted.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(submitted.status().message(),
                                  "limit.yaml: 3 jobs (the cross product of the axes, before "
                                  "include/exclude), more than the coordinator's --max_jobs=2"))
        << submitted.status();
    EXPECT_TRUE(absl::StrContains(submitted.status().message(),
                                  "limit.yaml:8:5: methods: rtn: bits: 2 values"))
        << submitted.status();
  }
  EXPECT_EQ(user->ListSweeps()->sweeps_size(), 0);
  // The same limit on the client's side refuses before anything is sent.
  auto refused = PrepareSubmission(WriteGrid("limit"), false, /*max_jobs=*/2);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "3 jobs")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "more than --max_jobs=2"))
      << refused.status();
}

TEST_F(CoordServiceTest, WorkerRpcsRequireRegistration) {
  grpc::ClientContext context;
  Authorize(&context);
  v1::LeaseRequest request;
  request.set_worker_id("stranger");
  v1::LeaseResponse response;
  EXPECT_EQ(worker_stub_->Lease(&context, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(CoordTlsTest, TlsClientsConnectAndPlaintextOnesDoNot) {
  const std::string dir = ::testing::TempDir();
  const std::string cert = absl::StrCat(dir, "/llmq_tls_cert.pem");
  const std::string key = absl::StrCat(dir, "/llmq_tls_key.pem");
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ", key, " -out ", cert,
      " >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "no openssl command to make a cert";
  ServerOptions options;
  options.db_path = FreshDbPath("tls");
  options.listen = "127.0.0.1:0";
  options.token = kToken;
  options.tls_cert_path = cert;
  options.tls_key_path = key;
  auto server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();

  ClientOptions tls;
  tls.target = absl::StrCat("localhost:", (*server)->port());
  tls.token = kToken;
  tls.tls_ca_path = cert;
  tls.timeout = absl::Seconds(10);
  auto secure = UserClient::Connect(tls);
  ASSERT_TRUE(secure.ok());
  EXPECT_TRUE((*secure)->ListSweeps().ok());

  ClientOptions plain = tls;
  plain.tls_ca_path.clear();
  plain.timeout = absl::Seconds(2);
  auto insecure = UserClient::Connect(plain);
  ASSERT_TRUE(insecure.ok());
  EXPECT_FALSE((*insecure)->ListSweeps().ok());
}

}  // namespace
}  // namespace llmq
