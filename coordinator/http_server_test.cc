#include "coordinator/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

// Sends `raw` to 127.0.0.1:port and returns everything the server answers before closing.
std::string Exchange(int port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(::send(fd, raw.data(), raw.size(), 0), static_cast<ssize_t>(raw.size()));
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) answer.append(buffer, n);
  ::close(fd);
  return answer;
}

std::unique_ptr<HttpServer> EchoServer() {
  auto server = HttpServer::Start("127.0.0.1:0", [](const HttpRequest& request) {
    HttpResponse response;
    response.body = absl::StrCat(request.method, " ", request.path);
    for (const auto& [key, value] : request.query) absl::StrAppend(&response.body, " ", key, "=", value);
    if (request.path == "/missing") response.status = 404;
    return response;
  });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(HttpServerTest, AnswersGetWithDecodedPathAndQuery) {
  std::unique_ptr<HttpServer> server = EchoServer();
  ASSERT_NE(server, nullptr);
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->url(), absl::StrCat("http://127.0.0.1:", server->port()));
  const std::string answer =
      Exchange(server->port(), "GET /a%20b?x=1&y=two+words HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 200 OK\r\n")) << answer;
  const std::string body = "GET /a b x=1 y=two words";
  EXPECT_TRUE(absl::StrContains(answer, absl::StrCat("Content-Length: ", body.size(), "\r\n")))
      << answer;
  EXPECT_TRUE(absl::EndsWith(answer, absl::StrCat("\r\n\r\n", body))) << answer;
  // The handler's status goes out with its reason phrase.
  EXPECT_TRUE(absl::StartsWith(Exchange(server->port(), "GET /missing HTTP/1.0\r\n\r\n"),
                               "HTTP/1.1 404 Not Found\r\n"));
}

TEST(HttpServerTest, HeadHasTheLengthButNoBody) {
  std::unique_ptr<HttpServer> server = EchoServer();
  ASSERT_NE(server, nullptr);
  const std::string answer = Exchange(server->port(), "HEAD /x HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(absl::StrContains(answer, "Content-Length: 7\r\n")) << answer;  // "HEAD /x"
  EXPECT_TRUE(absl::EndsWith(answer, "\r\n\r\n")) << answer;
}

TEST(HttpServerTest, RefusesOtherMethodsAndMalformedRequests) {
  std::unique_ptr<HttpServer> server = EchoServer();
  ASSERT_NE(server, nullptr);
  const std::string post = Exchange(server->port(), "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(absl::StartsWith(post, "HTTP/1.1 405 ")) << post;
  EXPECT_TRUE(absl::StrContains(post, "Allow: GET, HEAD\r\n")) << post;
  EXPECT_TRUE(absl::StartsWith(Exchange(server->port(), "nonsense\r\n\r\n"), "HTTP/1.1 400 "));
  EXPECT_TRUE(absl::StartsWith(Exchange(server->port(), "GET http://x/ HTTP/1.1\r\n\r\n"),
                               "HTTP/1.1 400 "));
  EXPECT_TRUE(absl::StartsWith(Exchange(server->port(), "GET /%zz HTTP/1.1\r\n\r\n"),
                               "HTTP/1.1 400 "));
  // Still serving after all that.
  EXPECT_TRUE(absl::StartsWith(Exchange(server->port(), "GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 200"));
}

TEST(HttpServerTest, ShutdownStopsServing) {
  std::unique_ptr<HttpServer> server = EchoServer();
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  server->Shutdown();
  server.reset();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ::close(fd);
}

TEST(HttpServerTest, ABarePortMeansLoopback) {
  EXPECT_EQ(ParseHttpAddress("9090").value(), std::make_pair(std::string("127.0.0.1"), 9090));
  EXPECT_EQ(ParseHttpAddress("0.0.0.0:80").value(), std::make_pair(std::string("0.0.0.0"), 80));
  EXPECT_EQ(ParseHttpAddress("[::1]:8080").value(), std::make_pair(std::string("::1"), 8080));
  EXPECT_EQ(ParseHttpAddress("localhost:0").value(), std::make_pair(std::string("localhost"), 0));
  for (const char* bad : {"", "abc", "host:", ":80", "1.2.3.4:99999", "[::1]80", "host:8x"}) {
    EXPECT_FALSE(ParseHttpAddress(bad).ok()) << bad;
  }
  EXPECT_TRUE(absl::StrContains(ParseHttpAddress("abc").status().message(), "--http"));
}

}  // namespace
}  // namespace llmq
