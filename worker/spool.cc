#include "worker/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/status.h"
#include "glog/logging.h"

namespace llmq {
namespace fs = std::filesystem;
namespace {

constexpr char kJobsDir[] = "jobs";
constexpr char kReportsDir[] = "reports";
constexpr char kTicketSuffix[] = ".ticket.pb";
constexpr char kReportSuffix[] = ".pb";

template <typename Message>
absl::StatusOr<Message> ReadMessage(const std::string& path) {
  LLMQ_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid ",
                                            Message::descriptor()->full_name()));
  }
  return message;
}

// File names in `dir` ending in `suffix`, sorted.
std::vector<std::string> NamesWithSuffix(const std::string& dir, absl::string_view suffix) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (absl::EndsWith(name, suffix) && !absl::StrContains(name, ".tmp.")) {
      names.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

absl::Status WriteFileDurably(const std::string& path, absl::string_view contents) {
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const absl::Status status = ErrnoError("write failed", temp);
      ::close(fd);
      std::remove(temp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const absl::Status status = ErrnoError("fsync failed", temp);
    std::remove(temp.c_str());
    return status;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const absl::Status status = ErrnoError("rename failed", path);
    std::remove(temp.c_str());
    return status;
  }
  const std::string parent = fs::path(path).parent_path().string();
  const int dir_fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WorkerSpool>> WorkerSpool::Open(const std::string& dir) {
  LLMQ_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, kJobsDir)));
  LLMQ_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, kReportsDir)));
  LLMQ_ASSIGN_OR_RETURN(auto lock, FileLock::Acquire(JoinPath(dir, ".lock"), false));
  return std::unique_ptr<WorkerSpool>(new WorkerSpool(dir, std::move(lock)));
}

std::string WorkerSpool::JobName(int64_t job_id, int32_t attempt) {
  return absl::StrCat("job", job_id, "-a", attempt);
}

std::string WorkerSpool::JobPath(absl::string_view name, absl::string_view suffix) const {
  return JoinPath(JoinPath(dir_, kJobsDir), absl::StrCat(name, suffix));
}

std::string WorkerSpool::SpecPath(absl::string_view name) const {
  return JobPath(name, ".spec.pb");
}

std::string WorkerSpool::ResultPath(absl::string_view name) const {
  return JobPath(name, ".result.pb");
}

std::string WorkerSpool::reports_dir() const { return JoinPath(dir_, kReportsDir); }

absl::Status WorkerSpool::BeginJob(absl::string_view name, const v1::ReportRequest& ticket,
                                   const v1::JobSpec& spec) {
  std::remove(ResultPath(name).c_str());  // a leftover must not pass for this run's result
  LLMQ_RETURN_IF_ERROR(WriteFileAtomically(SpecPath(name), spec.SerializeAsString()));
  return WriteFileDurably(JobPath(name, kTicketSuffix), ticket.SerializeAsString());
}

void WorkerSpool::EndJob(absl::string_view name) {
  std::remove(JobPath(name, kTicketSuffix).c_str());
  std::remove(SpecPath(name).c_str());
  std::remove(ResultPath(name).c_str());
}

std::vector<WorkerSpool::InterruptedJob> WorkerSpool::InterruptedJobs() const {
  std::vector<InterruptedJob> jobs;
  for (const std::string& name : NamesWithSuffix(JoinPath(dir_, kJobsDir), kTicketSuffix)) {
    absl::StatusOr<v1::ReportRequest> ticket =
        ReadMessage<v1::ReportRequest>(JobPath(name, kTicketSuffix));
    if (!ticket.ok()) {
      LOG(WARNING) << "spool ticket unreadable, dropped: " << ticket.status();
      std::remove(JobPath(name, kTicketSuffix).c_str());
      continue;
    }
    InterruptedJob job;
    job.name = name;
    job.ticket = *std::move(ticket);
    if (FileExists(ResultPath(name))) {
      absl::StatusOr<v1::JobResult> result = ReadMessage<v1::JobResult>(ResultPath(name));
      if (result.ok()) job.result = *std::move(result);
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

absl::Status WorkerSpool::PutReport(absl::string_view name,
                                    const v1::ReportRequest& report) {
  return WriteFileDurably(JoinPath(reports_dir(), absl::StrCat(name, kReportSuffix)),
                          report.SerializeAsString());
}

std::vector<WorkerSpool::PendingReport> WorkerSpool::PendingReports() const {
  std::vector<PendingReport> reports;
  for (const std::string& name : NamesWithSuffix(reports_dir(), kReportSuffix)) {
    const std::string path = JoinPath(reports_dir(), absl::StrCat(name, kReportSuffix));
    absl::StatusOr<v1::ReportRequest> report = ReadMessage<v1::ReportRequest>(path);
    if (!report.ok()) {
      LOG(ERROR) << "spooled report unreadable, set aside: " << report.status();
      std::rename(path.c_str(), absl::StrCat(path, ".corrupt").c_str());
      continue;
    }
    reports.push_back({name, *std::move(report)});
  }
  // Names sort as text ("job10" < "job9"); the coordinator wants no order, people do.
  std::sort(reports.begin(), reports.end(),
            [](const PendingReport& a, const PendingReport& b) {
              return std::make_pair(a.report.job_id(), a.report.attempt()) <
                     std::make_pair(b.report.job_id(), b.report.attempt());
            });
  return reports;
}

absl::Status WorkerSpool::RemoveReport(absl::string_view name) {
  const std::string path = JoinPath(reports_dir(), absl::StrCat(name, kReportSuffix));
  if (std::remove(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("cannot remove", path);
  }
  return absl::OkStatus();
}

std::string WorkerSpool::LoadWorkerId() const {
  absl::StatusOr<std::string> id = ReadFile(JoinPath(dir_, "worker_id"));
  if (!id.ok()) return "";
  return std::string(absl::StripAsciiWhitespace(*id));
}

absl::Status WorkerSpool::SaveWorkerId(absl::string_view worker_id) {
  return WriteFileDurably(JoinPath(dir_, "worker_id"), absl::StrCat(worker_id, "\n"));
}

}  // namespace llmq
