#include "coordinator/auth.h"

#include <openssl/crypto.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status.h"

namespace llmq {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::string token(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty token"));
  return token;
}

grpc::Status TokenAuthenticator::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata (--token_file)");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearer)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "authorization is not a Bearer token");
  }
  value.remove_prefix(kBearer.size());
  // Constant time, so that the comparison does not reveal how much of a guess was right.
  const bool matches = value.size() == token_.size() &&
                       CRYPTO_memcmp(value.data(), token_.data(), token_.size()) == 0;
  if (!matches) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong token");
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const std::string& tls_cert_path, const std::string& tls_key_path) {
  if (tls_cert_path.empty() && tls_key_path.empty()) return grpc::InsecureServerCredentials();
  if (tls_cert_path.empty() || tls_key_path.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls_cert and --tls_key");
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  LLMQ_ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(tls_cert_path));
  LLMQ_ASSIGN_OR_RETURN(pair.private_key, ReadFile(tls_key_path));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const std::string& tls_ca_path) {
  if (tls_ca_path.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  LLMQ_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls_ca_path));
  return grpc::SslCredentials(options);
}

}  // namespace llmq
