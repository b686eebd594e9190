// A running coordinator: the store, the scheduler, both gRPC services, the standard health
// service and server reflection on one port, a sweeper thread that expires leases, and
// (with `http`) the dashboard and `/metrics` on a port of their own
// (coordinator/dashboard.h). `llmq-coord serve` runs
// one until SIGTERM; `submit --local` and the tests run one on a free loopback port.
#ifndef LLMQ_COORDINATOR_SERVER_H_
#define LLMQ_COORDINATOR_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/auth.h"
#include "coordinator/clock.h"
#include "coordinator/dashboard.h"
#include "coordinator/http_server.h"
#include "coordinator/lease_waitlist.h"
#include "coordinator/scheduler.h"
#include "coordinator/user_service.h"
#include "coordinator/worker_service.h"
#include "grid/grid.h"
#include "grpcpp/server.h"
#include "storage/store.h"

namespace llmq {

struct ServerOptions {
  std::string db_path = "llmq.db";
  std::string listen = "127.0.0.1:7878";  // host:port; port 0 picks a free one
  std::string token;                      // empty: no authentication
  std::string tls_cert_path;              // both or neither
  std::string tls_key_path;
  // The dashboard and /metrics: "" (off), "PORT" (loopback), "HOST:PORT" (ParseHttpAddress).
  std::string http;
  SchedulerOptions scheduler;
  absl::Duration max_lease_wait = absl::Seconds(60);
  // SubmitSweep refuses a grid whose cross product has more jobs (serve --max_jobs): one
  // huge grid must not take the coordinator's memory and write lock.
  int64_t max_jobs = kDefaultMaxGridJobs;
  absl::Duration sweep_interval = absl::Seconds(1);  // how often leases are checked
  absl::Duration lease_recheck = absl::Seconds(1);   // parked Lease calls retry this often
  Clock* clock = nullptr;                            // default: the real clock
};

class CoordinatorServer {
 public:
  // Opens the database, starts serving and returns once the port is bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const ServerOptions& options);
  ~CoordinatorServer();  // Shutdown()
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  int port() const { return port_; }
  // "host:port" that a client on this machine can dial.
  std::string address() const;
  // "http://host:port" of the dashboard; "" when it is off.
  std::string http_url() const { return http_ != nullptr ? http_->url() : ""; }

  // Stops taking calls (parked leases are answered "no job"), stops the sweeper and
  // closes the database. Idempotent; safe from any thread but a gRPC handler's.
  void Shutdown();
  // Blocks until Shutdown has been called (by another thread).
  void WaitForShutdown();

  Scheduler* scheduler() { return scheduler_.get(); }
  Store* store() { return store_.get(); }

 private:
  CoordinatorServer() = default;
  void SweepUntilStopped(absl::Duration interval);

  ServerOptions options_;
  RealClock real_clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<LeaseWaitlist> waitlist_;
  std::unique_ptr<UserService> user_service_;
  std::unique_ptr<WorkerService> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<HttpServer> http_;
  int port_ = 0;
  absl::Notification stopping_;
  absl::Notification stopped_;
  std::thread sweeper_;
};

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_SERVER_H_
