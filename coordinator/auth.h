// Who may talk to the coordinator, and over what. A shared bearer token (from
// --token_file) must come with every RPC as metadata `authorization: Bearer <token>`;
// TLS (--tls_cert/--tls_key on the server, --tls_ca on clients) keeps it secret on the
// wire. Health checks are the exception: load balancers probe without a token.
#ifndef LLMQ_COORDINATOR_AUTH_H_
#define LLMQ_COORDINATOR_AUTH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace llmq {

// Reads a token file: its first line, surrounding whitespace removed. An empty token is
// an error (it would let everyone in while looking protected).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Checks the bearer token on incoming calls. An empty expected token lets every call in.
class TokenAuthenticator {
 public:
  explicit TokenAuthenticator(std::string token) : token_(std::move(token)) {}

  // OK, or UNAUTHENTICATED saying what was wrong (missing or wrong token; never the
  // token itself).
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  bool enabled() const { return !token_.empty(); }

 private:
  const std::string token_;
};

// Server credentials: TLS when both files are given, plaintext when neither.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& tls_cert_path, const std::string& tls_key_path);

// Channel credentials: TLS verified against `tls_ca_path` when given, else plaintext.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& tls_ca_path);

}  // namespace llmq

#endif  // LLMQ_COORDINATOR_AUTH_H_
