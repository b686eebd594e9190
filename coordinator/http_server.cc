#include "coordinator/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace llmq {
namespace {

constexpr size_t kMaxHead = 16 << 10;
constexpr int kIoTimeoutSeconds = 5;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    default: return "Unknown";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("truncated percent escape");
      }
      const int high = HexValue(text[i + 1]), low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return absl::InvalidArgumentError("bad percent escape");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> ParseHttpAddress(absl::string_view flag_value) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http: expected PORT, HOST:PORT or [IPV6]:PORT, got \"", flag_value, "\""));
  };
  std::string host = "127.0.0.1";
  absl::string_view port_text = flag_value;
  if (absl::StartsWith(flag_value, "[")) {
    const size_t close = flag_value.find("]:");
    if (close == absl::string_view::npos) return bad();
    host = std::string(flag_value.substr(1, close - 1));
    port_text = flag_value.substr(close + 2);
  } else if (const size_t colon = flag_value.rfind(':'); colon != absl::string_view::npos) {
    host = std::string(flag_value.substr(0, colon));
    port_text = flag_value.substr(colon + 1);
  }
  int port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return bad();
  }
  return std::make_pair(host, port);
}

absl::StatusOr<HttpRequest> ParseHttpRequest(absl::string_view head) {
  const size_t line_end = head.find("\r\n");
  if (line_end == absl::string_view::npos) return absl::InvalidArgumentError("no request line");
  std::vector<absl::string_view> parts = absl::StrSplit(head.substr(0, line_end), ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
    return absl::InvalidArgumentError("malformed request line");
  }
  HttpRequest request;
  request.method = std::string(parts[0]);
  absl::string_view target = parts[1];
  if (!absl::StartsWith(target, "/")) return absl::InvalidArgumentError("target must be a path");
  absl::string_view query;
  if (const size_t q = target.find('?'); q != absl::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  absl::StatusOr<std::string> path = PercentDecode(target, /*plus_is_space=*/false);
  if (!path.ok()) return path.status();
  request.path = *std::move(path);
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    absl::StatusOr<std::string> key = PercentDecode(kv.first, true);
    absl::StatusOr<std::string> value = PercentDecode(kv.second, true);
    if (!key.ok()) return key.status();
    if (!value.ok()) return value.status();
    request.query[*key] = *value;
  }
  return request;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(absl::string_view address,
                                                              HttpHandler handler) {
  std::pair<std::string, int> host_port;
  {
    auto parsed = ParseHttpAddress(address);
    if (!parsed.ok()) return parsed.status();
    host_port = *parsed;
  }
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handler_ = std::move(handler);
  server->host_ = host_port.first;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(host_port.second);
  if (int rc = getaddrinfo(server->host_.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http ", address, ": ", gai_strerror(rc)));
  }
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("--http: cannot listen on ", address, ": ", error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  server->port_ = ntohs(bound.ss_family == AF_INET6
                            ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  server->listen_fd_ = fd;
  if (::pipe2(server->wake_fds_, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  HttpServer* raw = server.get();
  server->thread_ = std::thread([raw] { raw->ServeUntilStopped(); });
  LOG(INFO) << "event=http_serving url=" << server->url();
  return server;
}

HttpServer::~HttpServer() {
  Shutdown();
  for (int fd : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

std::string HttpServer::url() const {
  std::string host = host_;
  if (host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  if (absl::StrContains(host, ':')) host = absl::StrCat("[", host, "]");
  return absl::StrCat("http://", host, ":", port_);
}

void HttpServer::Shutdown() {
  if (!thread_.joinable()) return;
  const char byte = 0;
  (void)!::write(wake_fds_[1], &byte, 1);
  thread_.join();
}

void HttpServer::ServeUntilStopped() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LOG(ERROR) << "event=http_poll_failed error=\"" << std::strerror(errno) << "\"";
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    timeval timeout{kIoTimeoutSeconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    ServeConnection(fd);
    ::close(fd);
  }
}

void HttpServer::ServeConnection(int fd) {
  std::string head;
  char buffer[4096];
  while (!absl::StrContains(head, "\r\n\r\n")) {
    if (head.size() > kMaxHead) break;
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // closed or timed out before a whole request head
    head.append(buffer, static_cast<size_t>(n));
  }
  HttpResponse response;
  absl::StatusOr<HttpRequest> request = absl::InvalidArgumentError("request head too large");
  if (head.size() <= kMaxHead) request = ParseHttpRequest(head);
  bool head_only = false;
  if (!request.ok()) {
    response.status = 400;
    response.body = absl::StrCat(request.status().message(), "\n");
  } else if (request->method != "GET" && request->method != "HEAD") {
    response.status = 405;
    response.body = "only GET and HEAD\n";
  } else {
    head_only = request->method == "HEAD";
    response = handler_(*request);
  }
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status),
                                 "\r\nContent-Type: ", response.content_type,
                                 "\r\nContent-Length: ", response.body.size(),
                                 "\r\nCache-Control: no-store\r\nConnection: close\r\n");
  if (response.status == 405) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!head_only) out += response.body;
  if (!WriteAll(fd, out)) VLOG(1) << "event=http_write_failed";
}

}  // namespace llmq
