// Status helpers shared by every folder: early-return macros for absl::Status and
// absl::StatusOr (Abseil 20220623 has no ABSL_RETURN_IF_ERROR), and a guard that turns
// exceptions thrown by third-party libraries (libtorch, yaml-cpp, JSON) into a Status.
#ifndef LLMQ_COMMON_STATUS_H_
#define LLMQ_COMMON_STATUS_H_

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#define LLMQ_STATUS_CONCAT_INNER_(a, b) a##b
#define LLMQ_STATUS_CONCAT_(a, b) LLMQ_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define LLMQ_RETURN_IF_ERROR(expr)                          \
  do {                                                      \
    ::absl::Status llmq_status_ = (expr);                   \
    if (!llmq_status_.ok()) return llmq_status_;            \
  } while (0)

// `lhs = value of expr` where expr is an absl::StatusOr<T>; returns its status on error.
// lhs may declare a variable: LLMQ_ASSIGN_OR_RETURN(auto x, Foo());
#define LLMQ_ASSIGN_OR_RETURN(lhs, expr) \
  LLMQ_ASSIGN_OR_RETURN_IMPL_(LLMQ_STATUS_CONCAT_(llmq_statusor_, __LINE__), lhs, expr)

#define LLMQ_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

namespace llmq {

// Prefixes a status message with context ("loading model.safetensors: ...").
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

// Runs `fn` and converts any exception into a Status whose message starts with
// `context`. Use at the boundary that calls libtorch, yaml-cpp or nlohmann::json.
template <typename Fn>
auto CatchExceptions(absl::string_view context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(context, ": unknown exception"));
  }
}

}  // namespace llmq

#endif  // LLMQ_COMMON_STATUS_H_
