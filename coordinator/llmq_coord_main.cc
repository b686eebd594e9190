// llmq-coord: the coordinator daemon and the user's command line.
//   llmq-coord serve | submit | status | jobs | workers | cancel | retry | results | export
// `llmq-coord help` lists them; `llmq-coord <command> --help` explains one, with an example.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <glog/logging.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "common/version.h"
#include "coordinator/auth.h"
#include "coordinator/cli.h"

// ---- connecting to a coordinator (every command but serve)
ABSL_FLAG(std::string, coordinator, "",
          "Coordinator address host:port. Default: $LLMQ_COORDINATOR, else 127.0.0.1:7878.");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is the shared token (serve: required of every caller; "
          "clients: sent as 'authorization: Bearer <token>').");
ABSL_FLAG(std::string, tls_ca, "", "Clients: PEM root certificates; talk TLS to the coordinator.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "Clients: deadline of each call.");
// ---- serve
ABSL_FLAG(std::string, db, "",
          "SQLite database. serve: default llmq.db; submit --local: default a temporary one.");
ABSL_FLAG(std::string, listen, "127.0.0.1:7878",
          "serve: address to listen on; 0.0.0.0:7878 for every interface (use a token and TLS).");
ABSL_FLAG(std::string, tls_cert, "", "serve: PEM certificate chain; enables TLS with --tls_key.");
ABSL_FLAG(std::string, tls_key, "", "serve: PEM private key of --tls_cert.");
ABSL_FLAG(std::string, http, "",
          "serve: also serve the read-only dashboard (/) and Prometheus metrics (/metrics) on "
          "PORT (loopback) or HOST:PORT; off when empty. It has no authentication: name a "
          "public address only on a trusted network.");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(60),
          "serve: a lease not renewed by a heartbeat for this long expires.");
ABSL_FLAG(absl::Duration, heartbeat, absl::Seconds(10), "serve: heartbeat interval told to workers.");
ABSL_FLAG(int, poison_after, 3, "serve: fail a job after this many workers died running it.");
ABSL_FLAG(absl::Duration, max_lease_wait, absl::Seconds(60), "serve: longest Lease long-poll.");
ABSL_FLAG(absl::Duration, oom_preference, absl::Minutes(10),
          "serve: after out-of-memory, how long a job waits for a worker with more free memory.");
// ---- serve and submit
ABSL_FLAG(int64_t, max_jobs, llmq::kDefaultMaxGridJobs,
          "serve, submit: refuse a grid whose cross product (models x dtypes x method, "
          "calibration and task variants x repeats, before include/exclude) has more jobs; "
          "checked before anything is expanded.");
// ---- submit
ABSL_FLAG(bool, wait, false, "submit: wait for the sweep, with a progress bar on stderr.");
ABSL_FLAG(bool, dry_run, false, "submit: check and count the jobs; submit nothing.");
ABSL_FLAG(bool, local, false,
          "submit: run an embedded coordinator and local workers for this sweep (the default "
          "when no coordinator answers and --coordinator is not given).");
ABSL_FLAG(int, workers, 1, "submit --local: worker processes to start.");
ABSL_FLAG(std::string, worker_binary, "",
          "submit --local: the llmq-worker to run (default: beside llmq-coord).");
ABSL_FLAG(std::vector<std::string>, worker_args, {},
          "submit --local: extra worker flags, comma-separated (--worker_args=--threads=2).");
// ---- tables (results; submit --local)
ABSL_FLAG(std::vector<std::string>, rows, {},
          "Coordinates that make table rows (model, method, bits, group_size, task.<param>, "
          "calibration.<field>, repeat, ...). Default: model, method and whatever varies.");
ABSL_FLAG(std::vector<std::string>, cols, {},
          "Coordinates that make column groups. Default: task and the task parameters that vary "
          "within a task.");
ABSL_FLAG(std::vector<std::string>, metrics, {},
          "Metrics to show, or 'all'. Default: each task's headline metrics (ppl: ppl; boolq: "
          "accuracy; gsm8k: exact_match_strict,exact_match_flexible; msmarco: ndcg_at_10,"
          "mrr_at_10; mc: accuracy,accuracy_norm; efficiency: prefill_ms_<n>,decode_ms_p50,"
          "throughput_b<n>,weight_bytes,tensor_peak_bytes,peak_rss_bytes,quantize_peak_rss_bytes,bits_per_weight).");
ABSL_FLAG(std::string, format, "",
          "results: markdown (default), latex (booktabs), csv or json. export: json (default) "
          "or csv.");
ABSL_FLAG(int, precision, 4, "results: significant digits (integer digits are never cut).");
ABSL_FLAG(bool, delta, false,
          "results: each value's change against the unquantized baseline (method none, same "
          "model, task and parameters): in percent for ppl, latency, bytes and throughput, as a "
          "difference for accuracy-like scores and bits/weight. Markdown and LaTeX show it in "
          "parentheses; CSV and JSON in a column after each value.");
ABSL_FLAG(bool, ci, false,
          "results: each value's 95 % interval, value [low, high]: a percentile bootstrap over "
          "the task's examples (1,000 resamples, fixed seed; ppl resamples windows), or over "
          "repeats mean ± t·s/√n. With --delta, the change against the baseline is a paired "
          "bootstrap on the same examples, with its interval, p-value and '*' where the interval "
          "excludes 0. CSV/JSON: columns '<col> ci_low', 'ci_high', 'delta_ci_low', "
          "'delta_ci_high', 'p_value'.");
ABSL_FLAG(bool, mark_best, true,
          "results: Markdown and LaTeX show each column's best quantized value (per model) in bold.");
ABSL_FLAG(std::string, plot, "",
          "results: also write an SVG chart here: a metric against --x, one line per method, a "
          "panel per model and task, the baseline dashed; with --delta the change against the "
          "baseline in percent (a layer scan: --x=block --delta).");
ABSL_FLAG(std::string, x, "bits_per_weight",
          "results --plot: the x axis, a metric (bits_per_weight, weight_bytes) or a method "
          "parameter (group_size, bits, block).");
ABSL_FLAG(std::string, y, "",
          "results --plot: the metric on the y axis. Default: each task's first headline "
          "metric (efficiency tasks are left out).");
ABSL_FLAG(bool, log_y, false, "results --plot: logarithmic y axis (for perplexity).");
ABSL_FLAG(bool, long_form, false, "results: one row per (job, metric) instead of a pivot.");
ABSL_FLAG(std::string, model, "", "results: only this model alias.");
ABSL_FLAG(std::string, method, "", "results: only this method.");
ABSL_FLAG(std::string, task, "", "results: only this task.");
// ---- jobs / export
ABSL_FLAG(int64_t, sweep, 0,
          "The sweep, for commands that take one (the same as giving it as the first argument); "
          "jobs: only this sweep (0 = all).");
ABSL_FLAG(std::vector<std::string>, state, {},
          "jobs: only these states (PENDING,LEASED,RUNNING,SUCCEEDED,FAILED,CANCELLED).");
ABSL_FLAG(int, limit, 200, "jobs: at most this many (0 = all).");
ABSL_FLAG(std::string, out, "", "export: write here instead of stdout.");

namespace llmq {
namespace {

struct Command {
  const char* name;
  const char* usage;
  const char* summary;
  const char* example;
  std::vector<const char*> flags;
};

const std::vector<const char*> kClientFlags = {"coordinator", "token_file", "tls_ca", "timeout"};

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {"serve", "serve [flags]", "Run the coordinator daemon until SIGTERM/SIGINT.",
       "llmq-coord serve --db=/data/llmq.db --listen=0.0.0.0:7878 --token_file=/etc/llmq/token "
       "--tls_cert=cert.pem --tls_key=key.pem --http=127.0.0.1:9090",
       {"db", "listen", "token_file", "tls_cert", "tls_key", "http", "lease_ttl", "heartbeat",
        "poison_after", "max_lease_wait", "oom_preference", "max_jobs"}},
      {"submit", "submit GRID.yaml [flags]",
       "Submit a grid; prints the sweep id. Without a coordinator, runs it here (--local) and "
       "prints the results table.",
       "llmq-coord submit examples/demo.yaml --wait\n"
       "  llmq-coord submit --local --workers=2 --db=demo.db examples/demo.yaml",
       {"wait", "dry_run", "max_jobs", "local", "workers", "db", "worker_binary", "worker_args",
        "rows", "cols", "metrics", "format", "precision", "delta", "ci", "mark_best"}},
      {"status", "status [SWEEP]", "Every sweep with its job counts, or one sweep in detail.",
       "llmq-coord status 3", {"sweep"}},
      {"jobs", "jobs [flags]", "Jobs with their state, progress and last error.",
       "llmq-coord jobs --sweep=3 --state=FAILED,RUNNING", {"sweep", "state", "limit"}},
      {"workers", "workers", "Registered workers, their devices and current jobs.",
       "llmq-coord workers", {}},
      {"cancel", "cancel SWEEP", "Cancel a sweep's unfinished jobs.", "llmq-coord cancel 3",
       {"sweep"}},
      {"retry", "retry SWEEP [JOB...]",
       "Requeue a sweep's failed and cancelled jobs (all, or the ones named).",
       "llmq-coord retry 3 17 18", {"sweep"}},
      {"results", "results [SWEEP] [flags]",
       "Results as a table: rows and column groups chosen by coordinates, one column per metric "
       "(by default each task's headline metrics); optionally an SVG chart.",
       "llmq-coord results 3 --format=latex --delta\n"
       "  llmq-coord results 3 --ci --delta --format=json\n"
       "  llmq-coord results 3 --rows=model,method,bits,group_size --cols=task --metrics=ppl "
       "--format=csv\n"
       "  llmq-coord results 3 --plot=ppl.svg --x=group_size --log_y",
       {"sweep", "rows", "cols", "metrics", "format", "precision", "delta", "ci", "mark_best", "plot",
        "x", "y", "log_y", "long_form", "model", "method", "task"}},
      {"export", "export SWEEP [flags]",
       "Dump a sweep's results: JSON (everything: metrics, provenance, timings) or CSV (long form).",
       "llmq-coord export 3 --format=csv --out=sweep3.csv", {"sweep", "format", "out"}},
  };
  return *commands;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& command : Commands()) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

void PrintFlag(const char* name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return;
  std::printf("  --%s (default: %s)\n      %s\n", name,
              flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue().c_str(),
              flag->Help().c_str());
}

void PrintUsage() {
  std::printf("llmq-coord %s: post-training-quantization sweeps, coordinated.\n\nCommands:\n",
              kLlmqVersion);
  for (const Command& command : Commands()) {
    std::printf("  %-26s %s\n", command.usage, command.summary);
  }
  std::printf("\n`llmq-coord <command> --help` shows a command's flags and an example.\n"
              "Flags accept dashes or underscores: --token-file = --token_file.\n");
}

void PrintCommandHelp(const Command& command) {
  std::printf("usage: llmq-coord %s\n\n%s\n\nexample:\n  %s\n", command.usage, command.summary,
              command.example);
  if (!command.flags.empty()) {
    std::printf("\nflags:\n");
    for (const char* flag : command.flags) PrintFlag(flag);
  }
  if (std::strcmp(command.name, "serve") != 0) {
    std::printf("\nconnection flags:\n");
    for (const char* flag : kClientFlags) PrintFlag(flag);
  }
}

bool ParseId(const std::string& text, int64_t* id) {
  return absl::SimpleAtoi(text, id) && *id > 0;
}

int UsageError(const Command& command, const std::string& message) {
  std::fprintf(stderr, "error: %s\nusage: llmq-coord %s (see --help)\n", message.c_str(),
               command.usage);
  return kExitUsage;
}

std::string CoordinatorTarget(bool* given) {
  std::string target = absl::GetFlag(FLAGS_coordinator);
  if (target.empty()) {
    const char* env = std::getenv("LLMQ_COORDINATOR");
    if (env != nullptr) target = env;
  }
  *given = !target.empty();
  return target.empty() ? "127.0.0.1:7878" : target;
}

absl::StatusOr<ClientOptions> ClientFlags(bool* given) {
  ClientOptions options;
  options.target = CoordinatorTarget(given);
  options.tls_ca_path = absl::GetFlag(FLAGS_tls_ca);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  if (!absl::GetFlag(FLAGS_token_file).empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(absl::GetFlag(FLAGS_token_file));
    if (!token.ok()) return token.status();
    options.token = *token;
  }
  return options;
}

PivotOptions TableFlags() {
  PivotOptions table;
  table.rows = absl::GetFlag(FLAGS_rows);
  table.columns = absl::GetFlag(FLAGS_cols);
  table.metrics = absl::GetFlag(FLAGS_metrics);
  table.precision = absl::GetFlag(FLAGS_precision);
  table.delta = absl::GetFlag(FLAGS_delta);
  table.mark_best = absl::GetFlag(FLAGS_mark_best);
  table.ci = absl::GetFlag(FLAGS_ci);
  return table;
}

int RunWithClient(const Command& command, UserClient& client, const std::vector<std::string>& args);

int Run(const Command& command, const std::vector<std::string>& args) {
  const std::string name = command.name;
  if (name == "serve") {
    if (!args.empty()) return UsageError(command, "serve takes no arguments");
    ServerOptions options;
    options.db_path = absl::GetFlag(FLAGS_db).empty() ? "llmq.db" : absl::GetFlag(FLAGS_db);
    options.listen = absl::GetFlag(FLAGS_listen);
    options.tls_cert_path = absl::GetFlag(FLAGS_tls_cert);
    options.tls_key_path = absl::GetFlag(FLAGS_tls_key);
    options.http = absl::GetFlag(FLAGS_http);
    if (!options.http.empty()) {
      absl::Status valid = ParseHttpAddress(options.http).status();
      if (!valid.ok()) return UsageError(command, std::string(valid.message()));
    }
    if (!absl::GetFlag(FLAGS_token_file).empty()) {
      absl::StatusOr<std::string> token = ReadTokenFile(absl::GetFlag(FLAGS_token_file));
      if (!token.ok()) return UsageError(command, std::string(token.status().message()));
      options.token = *token;
    }
    options.scheduler.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
    options.scheduler.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat);
    options.scheduler.retry.poison_after_worker_deaths = absl::GetFlag(FLAGS_poison_after);
    options.scheduler.oom_preference = absl::GetFlag(FLAGS_oom_preference);
    options.max_lease_wait = absl::GetFlag(FLAGS_max_lease_wait);
    options.max_jobs = absl::GetFlag(FLAGS_max_jobs);
    if (options.max_jobs < 1) return UsageError(command, "--max_jobs must be at least 1");
    return RunServe(options);
  }
  bool given = false;
  absl::StatusOr<ClientOptions> client_options = ClientFlags(&given);
  if (!client_options.ok()) return UsageError(command, std::string(client_options.status().message()));
  if (name == "submit") {
    if (args.size() != 1) return UsageError(command, "submit takes one grid file");
    WatchForInterrupts();
    SubmitOptions options;
    options.grid_path = args[0];
    options.client = *client_options;
    options.coordinator_given = given;
    options.wait = absl::GetFlag(FLAGS_wait);
    options.dry_run = absl::GetFlag(FLAGS_dry_run);
    options.local = absl::GetFlag(FLAGS_local);
    options.max_jobs = absl::GetFlag(FLAGS_max_jobs);
    if (options.max_jobs < 1) return UsageError(command, "--max_jobs must be at least 1");
    options.db_path = absl::GetFlag(FLAGS_db);
    options.workers = absl::GetFlag(FLAGS_workers);
    options.worker_binary = absl::GetFlag(FLAGS_worker_binary);
    options.worker_args = absl::GetFlag(FLAGS_worker_args);
    options.table = TableFlags();
    options.format = absl::GetFlag(FLAGS_format).empty() ? "markdown" : absl::GetFlag(FLAGS_format);
    if (options.workers < 1) return UsageError(command, "--workers must be at least 1");
    return RunSubmit(options);
  }
  absl::StatusOr<std::unique_ptr<UserClient>> client = UserClient::Connect(*client_options);
  if (!client.ok()) return UsageError(command, std::string(client.status().message()));
  // A sweep id may come as the first argument or as --sweep.
  std::vector<std::string> args_with_sweep = args;
  if (absl::GetFlag(FLAGS_sweep) > 0 && name != "jobs") {
    // For retry, the arguments after --sweep are job ids.
    if (!args.empty() && name != "retry") return UsageError(command, "sweep given twice");
    args_with_sweep.insert(args_with_sweep.begin(), absl::StrCat(absl::GetFlag(FLAGS_sweep)));
  }
  return RunWithClient(command, **client, args_with_sweep);
}

int RunWithClient(const Command& command, UserClient& client, const std::vector<std::string>& args) {
  const std::string name = command.name;
  int64_t sweep_id = 0;
  if (name == "status") {
    if (args.size() > 1 || (args.size() == 1 && !ParseId(args[0], &sweep_id))) {
      return UsageError(command, "status takes at most one sweep id");
    }
    return RunStatus(client, sweep_id);
  }
  if (name == "jobs") {
    v1::ListJobsRequest request;
    request.set_sweep_id(absl::GetFlag(FLAGS_sweep));
    request.set_limit(absl::GetFlag(FLAGS_limit));
    for (const std::string& state : absl::GetFlag(FLAGS_state)) {
      v1::JobState parsed;
      if (!v1::JobState_Parse(state, &parsed)) return UsageError(command, "unknown state " + state);
      request.add_states(parsed);
    }
    return RunJobs(client, request);
  }
  if (name == "workers") return RunWorkers(client);
  if (name == "results") {
    if (args.size() > 1 || (args.size() == 1 && !ParseId(args[0], &sweep_id))) {
      return UsageError(command, "results takes at most one sweep id");
    }
    ResultsOptions options;
    options.query.set_sweep_id(sweep_id);
    options.query.set_model(absl::GetFlag(FLAGS_model));
    options.query.set_method(absl::GetFlag(FLAGS_method));
    options.query.set_task(absl::GetFlag(FLAGS_task));
    options.table = TableFlags();
    options.format = absl::GetFlag(FLAGS_format).empty() ? "markdown" : absl::GetFlag(FLAGS_format);
    options.long_form = absl::GetFlag(FLAGS_long_form);
    options.plot_path = absl::GetFlag(FLAGS_plot);
    options.plot.x = absl::GetFlag(FLAGS_x);
    options.plot.y = absl::GetFlag(FLAGS_y);
    options.plot.log_y = absl::GetFlag(FLAGS_log_y);
    options.plot.delta = options.table.delta;
    if (options.table.precision < 1) return UsageError(command, "--precision must be at least 1");
    return RunResults(client, options);
  }
  if (args.empty() || !ParseId(args[0], &sweep_id)) {
    return UsageError(command, "a sweep id is required");
  }
  if (name == "cancel") return RunCancel(client, sweep_id);
  if (name == "retry") {
    std::vector<int64_t> job_ids;
    for (size_t i = 1; i < args.size(); ++i) {
      int64_t id = 0;
      if (!ParseId(args[i], &id)) return UsageError(command, "not a job id: " + args[i]);
      job_ids.push_back(id);
    }
    return RunRetry(client, sweep_id, job_ids);
  }
  ExportOptions options;  // export
  options.sweep_id = sweep_id;
  options.format = absl::GetFlag(FLAGS_format).empty() ? "json" : absl::GetFlag(FLAGS_format);
  options.out_path = absl::GetFlag(FLAGS_out);
  return RunExport(client, options);
}

}  // namespace
}  // namespace llmq

int main(int argc, char** argv) {
  using llmq::Commands;
  if (argc < 2 || std::strcmp(argv[1], "help") == 0 || std::strcmp(argv[1], "--help") == 0 ||
      std::strcmp(argv[1], "-h") == 0) {
    llmq::PrintUsage();
    return argc < 2 ? llmq::kExitUsage : llmq::kExitOk;
  }
  if (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0) {
    std::printf("llmq-coord %s (protocol %d, result version %d)\n", llmq::kLlmqVersion,
                llmq::kProtocolVersion, llmq::kResultVersion);
    return llmq::kExitOk;
  }
  const llmq::Command* command = llmq::FindCommand(argv[1]);
  if (command == nullptr) {
    std::fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    llmq::PrintUsage();
    return llmq::kExitUsage;
  }
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0 ||
        std::strcmp(argv[i], "--helpfull") == 0) {
      llmq::PrintCommandHelp(*command);
      return llmq::kExitOk;
    }
  }
  llmq::NormalizeFlagNames(argc, argv);
  absl::SetProgramUsageMessage("llmq-coord <command> [flags]; `llmq-coord help` lists commands");
  // argv without the command, so that Abseil sees the flags and the positional arguments.
  std::vector<char*> flag_argv = {argv[0]};
  for (int i = 2; i < argc; ++i) flag_argv.push_back(argv[i]);
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(flag_argv.size()), flag_argv.data());
  std::vector<std::string> args(positional.begin() + 1, positional.end());

  FLAGS_logtostderr = true;
  // The daemon logs every event; the command line shows only warnings and errors.
  FLAGS_minloglevel = std::strcmp(command->name, "serve") == 0 ? google::GLOG_INFO
                                                               : google::GLOG_WARNING;
  google::InitGoogleLogging(argv[0]);
  return llmq::Run(*command, args);
}
