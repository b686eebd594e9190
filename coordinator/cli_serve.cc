// `llmq-coord serve`, and the interrupt watcher every long-running subcommand uses.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include <glog/logging.h>

#include "coordinator/cli.h"

namespace llmq {

std::atomic<bool>& Interrupted() {
  static std::atomic<bool> interrupted{false};
  return interrupted;
}

void WatchForInterrupts(std::function<void()> on_signal) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals, on_signal = std::move(on_signal)]() {
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      const bool again = Interrupted().exchange(true);
      LOG(WARNING) << "event=signal_received signal=" << signal;
      if (again) {
        std::fprintf(stderr, "interrupted twice: exiting now\n");
        std::_Exit(130);
      }
      if (on_signal) on_signal();
    }
  }).detach();
}

int RunServe(const ServerOptions& options) {
  static std::atomic<CoordinatorServer*> running{nullptr};
  WatchForInterrupts([] {
    if (CoordinatorServer* server = running.load(); server != nullptr) server->Shutdown();
  });
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(server.status().message()).c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "llmq coordinator serving on %s (database %s); Ctrl-C to stop\n",
               (*server)->address().c_str(), options.db_path.c_str());
  running.store(server->get());
  if (Interrupted().load()) (*server)->Shutdown();
  // Only the interrupt watcher shuts the server down; once it has, nothing else uses it.
  (*server)->WaitForShutdown();
  running.store(nullptr);
  return kExitOk;
}

}  // namespace llmq
