#include "coordinator/server.h"

#include <glog/logging.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"

namespace llmq {

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<CoordinatorServer> server(new CoordinatorServer());
  server->options_ = options;
  Clock* clock = options.clock != nullptr ? options.clock : &server->real_clock_;
  LLMQ_ASSIGN_OR_RETURN(server->store_, Store::Open(options.db_path));
  LLMQ_ASSIGN_OR_RETURN(server->scheduler_,
                        Scheduler::Create(server->store_.get(), clock, options.scheduler));
  server->auth_ = std::make_unique<TokenAuthenticator>(options.token);
  Scheduler* scheduler = server->scheduler_.get();
  server->waitlist_ = std::make_unique<LeaseWaitlist>(
      [scheduler](const v1::LeaseRequest& request) { return scheduler->Lease(request); },
      options.lease_recheck);
  LeaseWaitlist* waitlist = server->waitlist_.get();
  scheduler->SetWorkListener([waitlist] { waitlist->Wake(); });
  server->user_service_ = std::make_unique<UserService>(scheduler, server->auth_.get(),
                                                        options.max_jobs);
  server->worker_service_ = std::make_unique<WorkerService>(
      scheduler, server->auth_.get(), waitlist, options.max_lease_wait);

  LLMQ_ASSIGN_OR_RETURN(auto credentials,
                        MakeServerCredentials(options.tls_cert_path, options.tls_key_path));
  // grpc.health.v1.Health (Kubernetes' grpc probes, load balancers) and server reflection
  // (grpcurl). Reflection describes what the generated descriptor pool holds; naming a
  // health message here keeps its descriptors linked in, so `grpcurl describe` covers
  // the health service too.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  (void)grpc::health::v1::HealthCheckResponse::descriptor();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  builder.RegisterService(server->user_service_.get());
  builder.RegisterService(server->worker_service_.get());
  builder.SetMaxSendMessageSize(-1);                // results of large sweeps
  builder.SetMaxReceiveMessageSize(64 << 20);       // grid files, reports
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use, or not this host's?)"));
  }
  if (!options.http.empty()) {
    server->dashboard_ = std::make_unique<Dashboard>(server->store_.get(), &scheduler->metrics());
    Dashboard* dashboard = server->dashboard_.get();
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
        options.http, [dashboard](const HttpRequest& request) { return dashboard->Handle(request); });
    if (!http.ok()) {
      server->server_->Shutdown();
      return http.status();
    }
    server->http_ = *std::move(http);
  }
  // "" is the server as a whole; the two services by name, for probes that ask for one.
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const char* service : {v1::LlmqUser::service_full_name(),
                              v1::LlmqWorker::service_full_name()}) {
    health->SetServingStatus(service, true);
  }
  server->sweeper_ = std::thread(
      [raw = server.get(), interval = options.sweep_interval] { raw->SweepUntilStopped(interval); });
  LOG(INFO) << "event=coordinator_serving address=" << server->address()
            << " db=" << options.db_path << " auth=" << (server->auth_->enabled() ? "token" : "none")
            << " tls=" << (options.tls_cert_path.empty() ? "off" : "on")
            << " http=" << (server->http_ != nullptr ? server->http_url() : "off")
            << " version=" << kLlmqVersion;
  return server;
}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

std::string CoordinatorServer::address() const {
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") host = "127.0.0.1";
  return absl::StrCat(host, ":", port_);
}

void CoordinatorServer::SweepUntilStopped(absl::Duration interval) {
  while (!stopping_.WaitForNotificationWithTimeout(interval)) {
    absl::StatusOr<int> expired = scheduler_->ExpireLeases();
    LOG_IF(ERROR, !expired.ok()) << "event=sweep_failed error=\"" << expired.status().message()
                                 << "\"";
  }
}

void CoordinatorServer::Shutdown() {
  if (stopping_.HasBeenNotified()) {
    stopped_.WaitForNotification();
    return;
  }
  stopping_.Notify();
  if (server_ != nullptr) server_->GetHealthCheckService()->SetServingStatus(false);
  if (http_ != nullptr) http_->Shutdown();
  if (waitlist_ != nullptr) waitlist_->Shutdown();
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (sweeper_.joinable()) sweeper_.join();
  if (scheduler_ != nullptr) scheduler_->SetWorkListener(nullptr);
  server_.reset();
  LOG(INFO) << "event=coordinator_stopped";
  stopped_.Notify();
}

void CoordinatorServer::WaitForShutdown() { stopped_.WaitForNotification(); }

}  // namespace llmq
