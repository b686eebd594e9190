// What generic tools see of a running coordinator: the standard health service
// (grpc.health.v1, as Kubernetes' grpc probes and load balancers call it) and server
// reflection (as grpcurl calls it), both without a token.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "coordinator/server.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "storage/test_db.h"

namespace llmq {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class ServerIntrospectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.db_path = FreshDbPath("introspection");
    options.listen = "127.0.0.1:0";
    options.token = "a-token-these-calls-never-send";
    auto server = CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }

  // Check(service): the status code, and the serving status when the call succeeded.
  std::pair<grpc::StatusCode, HealthCheckResponse::ServingStatus> Check(
      const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    return {status.error_code(), response.status()};
  }

  // One ServerReflectionInfo exchange: `request` (text format of
  // grpc.reflection.v1alpha.ServerReflectionRequest) out, the one response back as JSON.
  // Debian ships the reflection service's messages only inside libgrpc++_reflection, so
  // they are reached through the descriptor pool and sent as raw bytes.
  nlohmann::json Reflect(const std::string& request) {
    namespace pb = google::protobuf;
    const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
    const pb::Descriptor* request_type =
        pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
    const pb::Descriptor* response_type =
        pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
    if (request_type == nullptr || response_type == nullptr) {
      ADD_FAILURE() << "the reflection service's messages are not linked in";
      return nullptr;
    }
    std::unique_ptr<pb::Message> message(
        pb::MessageFactory::generated_factory()->GetPrototype(request_type)->New());
    if (!pb::TextFormat::ParseFromString(request, message.get())) {
      ADD_FAILURE() << "bad request text: " << request;
      return nullptr;
    }
    const std::string request_bytes = message->SerializeAsString();

    grpc::CompletionQueue queue;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::GenericStub stub(channel_);
    auto call = stub.PrepareCall(
        &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &queue);
    auto await = [&queue](intptr_t tag) {
      void* got = nullptr;
      bool ok = false;
      return queue.Next(&got, &ok) && ok && reinterpret_cast<intptr_t>(got) == tag;
    };
    grpc::Slice slice(request_bytes);
    grpc::ByteBuffer out(&slice, 1);
    grpc::ByteBuffer in;
    grpc::Status status;
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(await(1)) << "start";
    call->Write(out, reinterpret_cast<void*>(2));
    EXPECT_TRUE(await(2)) << "write";
    call->Read(&in, reinterpret_cast<void*>(3));
    const bool got_reply = await(3);
    call->WritesDone(reinterpret_cast<void*>(4));
    EXPECT_TRUE(await(4)) << "writes done";
    call->Finish(&status, reinterpret_cast<void*>(5));
    EXPECT_TRUE(await(5)) << "finish";
    queue.Shutdown();
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!got_reply) {
      ADD_FAILURE() << "no reflection response";
      return nullptr;
    }
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(in.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    std::unique_ptr<pb::Message> response(
        pb::MessageFactory::generated_factory()->GetPrototype(response_type)->New());
    EXPECT_TRUE(response->ParseFromString(bytes));
    std::string json;
    pb::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    EXPECT_TRUE(pb::util::MessageToJsonString(*response, &json, options).ok());
    return nlohmann::json::parse(json);
  }

  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerIntrospectionTest, HealthCheckAnswersServingWithoutAToken) {
  EXPECT_EQ(Check(""), std::make_pair(grpc::StatusCode::OK, HealthCheckResponse::SERVING));
  EXPECT_EQ(Check("llmq.v1.LlmqWorker"),
            std::make_pair(grpc::StatusCode::OK, HealthCheckResponse::SERVING));
  EXPECT_EQ(Check("llmq.v1.LlmqUser"),
            std::make_pair(grpc::StatusCode::OK, HealthCheckResponse::SERVING));
  EXPECT_EQ(Check("llmq.v1.NoSuchService").first, grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerIntrospectionTest, HealthWatchSeesNotServingWhenTheServerStops) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  HealthCheckRequest request;
  auto watch = stub->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  // Shutdown marks the server NOT_SERVING before it stops taking calls, so that probes and
  // load balancers turn away first.
  std::thread stop([this] { server_->Shutdown(); });
  bool saw_not_serving = false;
  while (!saw_not_serving && watch->Read(&response)) {
    saw_not_serving = response.status() == HealthCheckResponse::NOT_SERVING;
  }
  context.TryCancel();  // Shutdown would otherwise wait out its grace period for this call
  stop.join();
  EXPECT_TRUE(saw_not_serving);
}

TEST_F(ServerIntrospectionTest, ReflectionListsLlmqHealthAndReflectionServices) {
  const nlohmann::json response = Reflect("list_services: \"\"");
  std::set<std::string> services;
  for (const nlohmann::json& service : response["list_services_response"]["service"]) {
    services.insert(service["name"].get<std::string>());
  }
  EXPECT_EQ(services, (std::set<std::string>{"llmq.v1.LlmqUser", "llmq.v1.LlmqWorker",
                                             "grpc.health.v1.Health",
                                             "grpc.reflection.v1alpha.ServerReflection"}))
      << response.dump();
}

// What `grpcurl describe` does: the file that defines a symbol, decoded into a descriptor
// pool of the client's own, must describe each listed service and its methods.
TEST_F(ServerIntrospectionTest, ReflectionDescribesEveryListedService) {
  namespace pb = google::protobuf;
  struct Expected {
    std::string service, method, input_type;
  };
  for (const auto& [service, method, input_type] : std::vector<Expected>{
           {"llmq.v1.LlmqWorker", "Lease", "llmq.v1.LeaseRequest"},
           {"llmq.v1.LlmqUser", "SubmitSweep", "llmq.v1.SubmitSweepRequest"},
           {"grpc.health.v1.Health", "Check", "grpc.health.v1.HealthCheckRequest"},
       }) {
    const nlohmann::json response =
        Reflect("file_containing_symbol: \"" + service + "\"");
    pb::SimpleDescriptorDatabase files;
    for (const nlohmann::json& encoded :
         response["file_descriptor_response"]["file_descriptor_proto"]) {
      std::string bytes;
      ASSERT_TRUE(absl::Base64Unescape(encoded.get<std::string>(), &bytes));
      pb::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      ASSERT_TRUE(files.Add(file)) << file.name();
    }
    pb::DescriptorPool pool(&files);
    const pb::ServiceDescriptor* described = pool.FindServiceByName(service);
    ASSERT_NE(described, nullptr) << service << ": " << response.dump();
    const pb::MethodDescriptor* found = described->FindMethodByName(method);
    ASSERT_NE(found, nullptr) << service << "/" << method;
    EXPECT_EQ(found->input_type()->full_name(), input_type);
  }
}

}  // namespace
}  // namespace llmq
