// A small HTTP/1.1 server for the coordinator's read-only pages (`/metrics`, the
// dashboard): one thread accepts a connection, reads one GET or HEAD request, answers it
// with Content-Length and closes the connection. It never touches the scheduler: the
// handler reads the store's snapshot like any user call, so a slow page or a slow client
// (each read and write times out) delays only other pages.
#ifndef LLMQ_COORDINATOR_HTTP_SERVER_H_
#define LLMQ_COORDINATOR_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

struct HttpRequest {
  std::string method;  // GET | HEAD
  std::string path;    // "/sweep/3", percent-decoded, without the query
  std::map<std::string, std::string> query;  // "?a=1&b=x" -> {a: 1, b: x}, decoded
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// "PORT" (loopback), "HOST:PORT" or "[V6]:PORT" into the host and port to bind;
// InvalidArgument naming `flag_value` otherwise. A bare port means 127.0.0.1: the
// dashboard is public only when an operator names a public address.
absl::StatusOr<std::pair<std::string, int>> ParseHttpAddress(absl::string_view flag_value);

class HttpServer {
 public:
  // Binds `address` (ParseHttpAddress; port 0 picks a free one) and starts serving.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(absl::string_view address,
                                                           HttpHandler handler);
  ~HttpServer();  // Shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "http://host:port" a browser on this machine can open.
  std::string url() const;
  // Stops accepting and joins the thread (a request being answered finishes first).
  void Shutdown();

 private:
  HttpServer() = default;
  void ServeUntilStopped();
  void ServeConnection(int fd);

  HttpHandler handler_;
  std::string host_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: Shutdown writes, the poll loop wakes
  std::thread thread_;
};

// Parses one request head ("GET /x?y=1 HTTP/1.1\r\nHost: ...\r\n\r\n"); InvalidArgument
// for anything else.
absl::StatusOr<HttpRequest> ParseHttpRequest(absl::string_view head);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_HTTP_SERVER_H_
