// deploy/: the Kubernetes manifests and the Dockerfile, checked without a cluster or
// docker. Every document parses and has the kind and apiVersion Kubernetes expects; the
// objects agree with each other (Service and pods, probes and the listening port, volumes
// and mounts, grace period and drain time); and every flag they give llmq-coord or
// llmq-worker is one the built binary's --help lists (the binaries are run).
#include <stdio.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "gtest/gtest.h"

namespace llmq {
namespace {

constexpr char kManifestDir[] = "deploy/k8s";  // tests run from the source root
constexpr char kDockerfile[] = "Dockerfile";
constexpr char kTokenSecret[] = "llmq-token";
// What a worker needs after its drain deadline: kill the job, hand the lease back,
// deregister (the signal thread gives up 10 s after a second signal).
constexpr int64_t kDrainMarginSeconds = 30;
constexpr int64_t kDefaultDrainSeconds = 30;  // llmq-worker --drain_seconds

using nlohmann::json;

struct Document {
  std::string where;  // "deploy/k8s/file.yaml#2"
  json node;          // scalars as strings, as YAML wrote them
};

// yaml-cpp throws on lookups through missing keys; the checks read JSON instead.
json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& field : node) object[field.first.Scalar()] = ToJson(field.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const YAML::Node& item : node) array.push_back(ToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      return node.Scalar();
    default:
      return nullptr;
  }
}

const json& Missing() {
  static const json* const missing = new json();
  return *missing;
}

// node[path[0]][path[1]]..., or null where a key is missing.
const json& At(const json& node, std::initializer_list<const char*> path) {
  const json* at = &node;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return Missing();
    at = &(*at)[key];
  }
  return *at;
}

// Every document of every manifest, or a failure naming file:line:column.
std::vector<Document> LoadManifests() {
  std::vector<Document> documents;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(kManifestDir)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    try {
      int index = 0;
      for (const YAML::Node& node : YAML::LoadAllFromFile(file)) {
        documents.push_back({absl::StrCat(file, "#", ++index), ToJson(node)});
      }
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << file << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": "
                    << e.msg;
    }
  }
  return documents;
}

std::string Str(const json& node) { return node.is_string() ? node.get<std::string>() : ""; }

// An integer scalar ("4"); `fallback` for anything else.
int64_t Int(const json& node, int64_t fallback = -1) {
  int64_t value = 0;
  return absl::SimpleAtoi(Str(node), &value) ? value : fallback;
}

std::vector<std::string> Strings(const json& node) {
  std::vector<std::string> out;
  if (node.is_array()) {
    for (const json& item : node) out.push_back(Str(item));
  }
  return out;
}

// The pod template's spec of a workload; null for other kinds.
const json& PodSpec(const json& document) {
  const std::string kind = Str(At(document, {"kind"}));
  if (kind != "StatefulSet" && kind != "Deployment") return Missing();
  return At(document, {"spec", "template", "spec"});
}

// One run of an llmq binary: argv[0] is the binary's name, without its directory.
struct Invocation {
  std::string where;
  std::vector<std::string> argv;
};

std::string FlagName(const std::string& argument) {
  std::string name = argument.substr(2, argument.find('=') - 2);
  return absl::StrReplaceAll(name, {{"-", "_"}});
}

// --name=value flags of an invocation (the last of each wins, as in Abseil).
std::map<std::string, std::string> Flags(const Invocation& invocation) {
  std::map<std::string, std::string> flags;
  for (size_t i = 1; i < invocation.argv.size(); ++i) {
    const std::string& argument = invocation.argv[i];
    if (argument == "--") break;
    if (!absl::StartsWith(argument, "--")) continue;
    const size_t equals = argument.find('=');
    flags[FlagName(argument)] = equals == std::string::npos ? "" : argument.substr(equals + 1);
  }
  return flags;
}

// The llmq containers of a pod spec with their invocations (command + args).
std::vector<std::pair<json, Invocation>> LlmqContainers(const std::string& where,
                                                       const json& pod) {
  std::vector<std::pair<json, Invocation>> out;
  for (const char* list : {"initContainers", "containers"}) {
    if (!At(pod, {list}).is_array()) continue;
    for (const json& container : At(pod, {list})) {
      std::vector<std::string> argv = Strings(At(container, {"command"}));
      if (argv.empty()) continue;
      argv[0] = std::filesystem::path(argv[0]).filename().string();
      if (argv[0] != "llmq-coord" && argv[0] != "llmq-worker") continue;
      for (const std::string& arg : Strings(At(container, {"args"}))) argv.push_back(arg);
      out.push_back({container, {absl::StrCat(where, " container ", Str(At(container, {"name"}))),
                                 std::move(argv)}});
    }
  }
  return out;
}

std::vector<Invocation> ManifestInvocations(const std::vector<Document>& documents) {
  std::vector<Invocation> out;
  for (const Document& document : documents) {
    const json& pod = PodSpec(document.node);
    if (pod.is_null()) continue;
    for (auto& [container, invocation] : LlmqContainers(document.where, pod)) {
      out.push_back(std::move(invocation));
    }
  }
  return out;
}

// The Dockerfile's instructions, continuation lines joined, split into stages at FROM.
std::vector<std::vector<std::string>> DockerfileStages() {
  absl::StatusOr<std::string> text = ReadFile(kDockerfile);
  EXPECT_TRUE(text.ok()) << text.status();
  std::vector<std::vector<std::string>> stages;
  std::string instruction;
  for (absl::string_view line : absl::StrSplit(text.value_or(""), '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (instruction.empty() && (line.empty() || absl::StartsWith(line, "#"))) continue;
    if (absl::ConsumeSuffix(&line, "\\")) {
      absl::StrAppend(&instruction, line, " ");
      continue;
    }
    absl::StrAppend(&instruction, line);
    if (absl::StartsWithIgnoreCase(instruction, "FROM ")) stages.emplace_back();
    if (!stages.empty()) stages.back().push_back(instruction);
    instruction.clear();
  }
  return stages;
}

// The final stage's ENTRYPOINT + CMD (exec form), as the container runs them.
std::vector<Invocation> DockerfileInvocations() {
  const std::vector<std::vector<std::string>> stages = DockerfileStages();
  if (stages.empty()) return {};
  std::vector<std::string> entrypoint, cmd;
  for (const std::string& instruction : stages.back()) {
    for (const auto& [keyword, target] :
         std::vector<std::pair<std::string, std::vector<std::string>*>>{
             {"ENTRYPOINT ", &entrypoint}, {"CMD ", &cmd}}) {
      if (!absl::StartsWith(instruction, keyword)) continue;
      const std::string form = instruction.substr(keyword.size());
      const nlohmann::json parsed = nlohmann::json::parse(form, nullptr, false);
      EXPECT_TRUE(parsed.is_array()) << kDockerfile << ": " << keyword
                                     << "is not in exec form: " << form;
      target->clear();
      if (parsed.is_array()) {
        for (const nlohmann::json& item : parsed) target->push_back(item.get<std::string>());
      }
    }
  }
  std::vector<std::string> argv = entrypoint;
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  if (argv.empty()) return {};
  return {{absl::StrCat(kDockerfile, " CMD"), argv}};
}

std::string BuildDir() {
  const char* dir = std::getenv("LLMQ_BUILD_DIR");
  return dir != nullptr ? dir : "build";
}

// `binary [subcommand] --help`, run once (llmq-worker loads libtorch: seconds on a busy
// machine); its output, or "" with a failure.
std::string Help(const std::string& binary, const std::string& subcommand) {
  static auto* const cache = new std::map<std::string, std::string>();
  const std::string key = absl::StrCat(binary, " ", subcommand);
  if (auto it = cache->find(key); it != cache->end()) return it->second;
  const std::string path =
      JoinPath(BuildDir(), binary == "llmq-coord" ? "coordinator/llmq-coord"
                                                  : "worker/llmq-worker");
  if (!FileExists(path)) {
    ADD_FAILURE() << path << " is not built";
    return "";
  }
  const std::string command = absl::StrCat(path, " ", subcommand, " --help 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return "";
  }
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  // Abseil's --help exits 1; llmq-coord's subcommand help exits 0. Either way it must
  // have printed something (DeployFlagCheckTest shows it is the flag list).
  EXPECT_TRUE(WIFEXITED(status)) << command;
  EXPECT_FALSE(out.empty()) << command;
  (*cache)[key] = out;
  return out;
}

// The flags of `invocation` that its binary's --help does not list. llmq-coord's help is
// the subcommand's (its flags only); llmq-worker has one help for everything.
std::vector<std::string> UnknownFlags(const Invocation& invocation) {
  std::string subcommand;
  if (invocation.argv[0] == "llmq-coord") {
    for (size_t i = 1; i < invocation.argv.size() && subcommand.empty(); ++i) {
      if (!absl::StartsWith(invocation.argv[i], "-")) subcommand = invocation.argv[i];
    }
    if (subcommand.empty()) return {"(no subcommand)"};
  }
  const std::string help = Help(invocation.argv[0], subcommand);
  std::vector<std::string> unknown;
  for (const auto& [name, value] : Flags(invocation)) {
    // Both binaries list a flag as "--name (" (its default or help follows).
    if (!absl::StrContains(help, absl::StrCat("--", name, " ("))) unknown.push_back(name);
  }
  return unknown;
}

class ManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    documents_ = LoadManifests();
    ASSERT_FALSE(documents_.empty()) << "no manifests in " << kManifestDir;
  }

  std::vector<json> OfKind(const std::string& kind) const {
    std::vector<json> out;
    for (const Document& document : documents_) {
      if (Str(At(document.node, {"kind"})) == kind) out.push_back(document.node);
    }
    return out;
  }

  std::vector<Document> documents_;
};

TEST_F(ManifestsTest, EveryDocumentHasAKnownKindApiVersionAndName) {
  const std::map<std::string, std::string> api_version_of = {
      {"Service", "v1"},
      {"PersistentVolumeClaim", "v1"},
      {"StatefulSet", "apps/v1"},
      {"Deployment", "apps/v1"},
      {"Kustomization", "kustomize.config.k8s.io/v1beta1"},
  };
  std::multiset<std::string> kinds;
  for (const Document& document : documents_) {
    ASSERT_TRUE(document.node.is_object()) << document.where << ": not a map";
    const std::string kind = Str(At(document.node, {"kind"}));
    kinds.insert(kind);
    auto expected = api_version_of.find(kind);
    ASSERT_NE(expected, api_version_of.end()) << document.where << ": kind '" << kind << "'";
    EXPECT_EQ(Str(At(document.node, {"apiVersion"})), expected->second) << document.where;
    if (kind != "Kustomization") {
      EXPECT_FALSE(Str(At(document.node, {"metadata", "name"})).empty()) << document.where;
    }
  }
  EXPECT_EQ(kinds.count("StatefulSet"), 1u);  // the coordinator
  EXPECT_EQ(kinds.count("Deployment"), 2u);   // GPU and CPU workers
  EXPECT_EQ(kinds.count("Service"), 1u);
}

TEST_F(ManifestsTest, KustomizationListsEveryManifest) {
  std::set<std::string> listed;
  for (const json& kustomization : OfKind("Kustomization")) {
    for (const std::string& resource : Strings(At(kustomization, {"resources"}))) {
      listed.insert(resource);
    }
  }
  std::set<std::string> files;
  for (const Document& document : documents_) {
    const std::string file = std::filesystem::path(document.where.substr(
        0, document.where.find('#'))).filename().string();
    if (Str(At(document.node, {"kind"})) != "Kustomization") files.insert(file);
  }
  EXPECT_EQ(listed, files);
}

TEST_F(ManifestsTest, PodsMountOnlyVolumesTheyDeclare) {
  for (const Document& document : documents_) {
    const json& pod = PodSpec(document.node);
    if (pod.is_null()) continue;
    std::set<std::string> volumes;
    for (const json& volume : At(pod, {"volumes"})) volumes.insert(Str(At(volume, {"name"})));
    for (const json& claim : At(document.node, {"spec", "volumeClaimTemplates"})) {
      volumes.insert(Str(At(claim, {"metadata", "name"})));
    }
    for (const json& container : At(pod, {"containers"})) {
      for (const json& mount : At(container, {"volumeMounts"})) {
        EXPECT_TRUE(volumes.count(Str(At(mount, {"name"}))))
            << document.where << ": mounts undeclared volume " << Str(At(mount, {"name"}));
      }
    }
  }
}

// The volume (or volumeClaimTemplate) of `workload` that `container` mounts at a directory
// holding `path`; null if none does.
const json& VolumeHolding(const json& workload, const json& container, const std::string& path) {
  for (const json& mount : At(container, {"volumeMounts"})) {
    const std::string dir = absl::StrCat(Str(At(mount, {"mountPath"})), "/");
    if (!absl::StartsWith(path, dir)) continue;
    const std::string name = Str(At(mount, {"name"}));
    for (const json& volume : At(workload, {"spec", "template", "spec", "volumes"})) {
      if (Str(At(volume, {"name"})) == name) return volume;
    }
    for (const json& claim : At(workload, {"spec", "volumeClaimTemplates"})) {
      if (Str(At(claim, {"metadata", "name"})) == name) return claim;
    }
  }
  return Missing();
}

TEST_F(ManifestsTest, CoordinatorIsOneStatefulSetWithItsDatabaseOnAClaimBehindTheService) {
  const std::vector<json> sets = OfKind("StatefulSet");
  const std::vector<json> services = OfKind("Service");
  ASSERT_EQ(sets.size(), 1u);
  ASSERT_EQ(services.size(), 1u);
  const json& set = sets[0];
  const json& service = services[0];
  EXPECT_EQ(Int(At(set, {"spec", "replicas"})), 1) << "SQLite has one writer";
  EXPECT_EQ(Str(At(set, {"spec", "serviceName"})), Str(At(service, {"metadata", "name"})));
  auto containers = LlmqContainers("StatefulSet", At(set, {"spec", "template", "spec"}));
  ASSERT_EQ(containers.size(), 1u);
  const auto& [container, invocation] = containers[0];
  ASSERT_EQ(invocation.argv[0], "llmq-coord");
  const std::map<std::string, std::string> flags = Flags(invocation);

  // The database lies on a volume claimed by the StatefulSet, not in the container.
  ASSERT_TRUE(flags.count("db"));
  const json& data = VolumeHolding(set, container, flags.at("db"));
  ASSERT_TRUE(!data.is_null()) << "--db=" << flags.at("db") << " is on no volume";
  EXPECT_TRUE(!At(data, {"spec", "accessModes"}).is_null())
      << "--db=" << flags.at("db") << " is not on a volumeClaimTemplate";

  // The Service selects this pod and forwards to the port serve listens on, which the
  // probes ask over grpc.health.v1.
  const json& labels = At(set, {"spec", "template", "metadata", "labels"});
  for (const auto& selector : At(service, {"spec", "selector"}).items()) {
    EXPECT_EQ(Str(At(labels, {selector.key().c_str()})), Str(selector.value()))
        << "Service selects label " << selector.key();
  }
  ASSERT_TRUE(flags.count("listen"));
  int64_t listen_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(flags.at("listen").substr(flags.at("listen").rfind(':') + 1),
                               &listen_port));
  std::map<std::string, int64_t> container_ports;
  for (const json& port : At(container, {"ports"})) {
    container_ports[Str(At(port, {"name"}))] = Int(At(port, {"containerPort"}));
  }
  for (const json& port : At(service, {"spec", "ports"})) {
    const json& target = At(port, {"targetPort"});
    const int64_t target_port =
        Int(target) > 0 ? Int(target)
                        : (container_ports.count(Str(target)) ? container_ports[Str(target)] : -1);
    EXPECT_EQ(target_port, listen_port) << "Service port " << Str(At(port, {"name"}));
  }
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    ASSERT_TRUE(!At(container, {probe, "grpc"}).is_null()) << probe << " is not a grpc probe";
    EXPECT_EQ(Int(At(container, {probe, "grpc", "port"})), listen_port) << probe;
  }
}

TEST_F(ManifestsTest, WorkersDialTheServiceAndDrainWithinTheirGracePeriod) {
  const std::vector<json> services = OfKind("Service");
  ASSERT_EQ(services.size(), 1u);
  const std::string service = Str(At(services[0], {"metadata", "name"}));
  std::set<int64_t> service_ports;
  for (const json& port : At(services[0], {"spec", "ports"})) {
    service_ports.insert(Int(At(port, {"port"})));
  }
  int workers = 0;
  for (const json& deployment : OfKind("Deployment")) {
    const json& pod = At(deployment, {"spec", "template", "spec"});
    const std::string name = Str(At(deployment, {"metadata", "name"}));
    for (const auto& [container, invocation] : LlmqContainers(name, pod)) {
      if (invocation.argv[0] != "llmq-worker") continue;
      ++workers;
      const std::map<std::string, std::string> flags = Flags(invocation);
      // host[.namespace.svc...]:port, the host being the Service's name.
      const std::string coordinator = flags.count("coordinator") ? flags.at("coordinator") : "";
      const size_t colon = coordinator.rfind(':');
      ASSERT_NE(colon, std::string::npos) << name << ": --coordinator=" << coordinator;
      const std::string host = coordinator.substr(0, colon);
      EXPECT_EQ(host.substr(0, host.find('.')), service)
          << name << ": --coordinator=" << coordinator;
      int64_t port = 0;
      EXPECT_TRUE(absl::SimpleAtoi(coordinator.substr(colon + 1), &port) &&
                  service_ports.count(port))
          << name << ": --coordinator=" << coordinator;

      int64_t drain = kDefaultDrainSeconds;
      if (flags.count("drain_seconds")) {
        ASSERT_TRUE(absl::SimpleAtoi(flags.at("drain_seconds"), &drain));
      }
      EXPECT_GE(Int(At(pod, {"terminationGracePeriodSeconds"}), 30), drain + kDrainMarginSeconds)
          << name << ": the pod is killed before its worker's --drain_seconds=" << drain
          << " run out";
    }
  }
  EXPECT_EQ(workers, 2);
}

TEST_F(ManifestsTest, GpuWorkersRequestAGpuAndCpuWorkersDoNot) {
  std::set<std::string> devices;
  for (const json& deployment : OfKind("Deployment")) {
    const std::string name = Str(At(deployment, {"metadata", "name"}));
    for (const auto& [container, invocation] :
         LlmqContainers(name, At(deployment, {"spec", "template", "spec"}))) {
      const std::map<std::string, std::string> flags = Flags(invocation);
      const std::string device = flags.count("device") ? flags.at("device") : "cpu";
      devices.insert(device.substr(0, device.find(':')));
      const int64_t gpus = Int(At(container, {"resources", "limits", "nvidia.com/gpu"}), 0);
      if (absl::StartsWith(device, "cuda")) {
        EXPECT_EQ(gpus, 1) << name << ": --device=" << device;
      } else {
        EXPECT_EQ(gpus, 0) << name << ": --device=" << device << " holds a GPU it won't use";
      }
    }
  }
  EXPECT_EQ(devices, (std::set<std::string>{"cpu", "cuda"}));
}

// llmq-worker's default --threads is the cores the process may run on (its affinity), which
// a CPU limit (a quota) does not change: a worker with a limit must say its thread count.
TEST_F(ManifestsTest, WorkersWithACpuLimitRunThatManyThreads) {
  int limited = 0;
  for (const json& deployment : OfKind("Deployment")) {
    const std::string name = Str(At(deployment, {"metadata", "name"}));
    for (const auto& [container, invocation] :
         LlmqContainers(name, At(deployment, {"spec", "template", "spec"}))) {
      const std::string cpu = Str(At(container, {"resources", "limits", "cpu"}));
      if (cpu.empty()) continue;
      ++limited;
      const std::map<std::string, std::string> flags = Flags(invocation);
      EXPECT_EQ(flags.count("threads") ? flags.at("threads") : "(default)", cpu)
          << name << ": limits.cpu=" << cpu;
    }
  }
  EXPECT_GE(limited, 1);
}

TEST_F(ManifestsTest, EveryLlmqContainerReadsTheTokenFromTheSecret) {
  int containers = 0;
  for (const Document& document : documents_) {
    const json& pod = PodSpec(document.node);
    if (pod.is_null()) continue;
    for (const auto& [container, invocation] : LlmqContainers(document.where, pod)) {
      ++containers;
      const std::map<std::string, std::string> flags = Flags(invocation);
      ASSERT_TRUE(flags.count("token_file")) << invocation.where;
      const json& volume = VolumeHolding(document.node, container, flags.at("token_file"));
      EXPECT_EQ(Str(At(volume, {"secret", "secretName"})), kTokenSecret)
          << invocation.where << ": --token_file=" << flags.at("token_file");
    }
  }
  EXPECT_EQ(containers, 3);
}

TEST_F(ManifestsTest, EveryFlagPassedExistsInTheBinarysHelp) {
  std::vector<Invocation> invocations = ManifestInvocations(documents_);
  const std::vector<Invocation> docker = DockerfileInvocations();
  ASSERT_EQ(docker.size(), 1u) << "the Dockerfile's CMD runs no llmq binary";
  invocations.insert(invocations.end(), docker.begin(), docker.end());
  ASSERT_EQ(invocations.size(), 4u);
  for (const Invocation& invocation : invocations) {
    EXPECT_FALSE(Flags(invocation).empty()) << invocation.where;
    const std::vector<std::string> unknown = UnknownFlags(invocation);
    EXPECT_TRUE(unknown.empty()) << invocation.where << " passes flags " << invocation.argv[0]
                                 << " lacks: " << absl::StrJoin(unknown, ", ");
  }
}

// The check above would pass if help were empty and the match lenient; here it must fail.
TEST(DeployFlagCheckTest, FlagsTheBinariesLackAreCaught) {
  EXPECT_EQ(UnknownFlags({"test", {"llmq-coord", "serve", "--db=x", "--no-such-flag=1"}}),
            std::vector<std::string>{"no_such_flag"});
  // A flag of another subcommand is not one of serve's.
  EXPECT_EQ(UnknownFlags({"test", {"llmq-coord", "serve", "--wait"}}),
            std::vector<std::string>{"wait"});
  EXPECT_EQ(UnknownFlags({"test", {"llmq-worker", "--device=cpu", "--gpu=0"}}),
            std::vector<std::string>{"gpu"});
}

TEST(DockerfileTest, BuildsOnDebian12AndRunsOnRuntimePackagesOnly) {
  const std::vector<std::vector<std::string>> stages = DockerfileStages();
  ASSERT_GE(stages.size(), 2u) << "not a multi-stage build";
  for (const std::vector<std::string>& stage : stages) {
    const std::vector<std::string> from = absl::StrSplit(stage[0], ' ', absl::SkipEmpty());
    ASSERT_GE(from.size(), 2u);
    EXPECT_TRUE(from[1] == "debian:12" || absl::StartsWith(from[1], "debian:12-") ||
                absl::StartsWith(from[1], "debian:bookworm"))
        << stage[0];
  }
  bool builds = false;
  for (const std::string& instruction : stages.front()) {
    builds |= absl::StrContains(instruction, "scripts/install-deps");
  }
  EXPECT_TRUE(builds) << "the build stage does not run scripts/install-deps";
  bool copies_from_build = false;
  for (const std::string& instruction : stages.back()) {
    EXPECT_FALSE(absl::StrContains(instruction, "install-deps") ||
                 absl::StrContains(instruction, "-dev ") ||
                 absl::StrContains(instruction, "build-essential") ||
                 absl::StrContains(instruction, "cmake"))
        << "the runtime stage installs build tools: " << instruction;
    copies_from_build |= absl::StartsWith(instruction, "COPY --from=");
  }
  EXPECT_TRUE(copies_from_build) << "the runtime stage takes nothing from the build stage";
}

}  // namespace
}  // namespace llmq
