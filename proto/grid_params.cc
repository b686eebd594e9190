// Checks parameter values against the schema table (grid_schema.cc) and writes them in
// canonical form.
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/grid_paths.h"
#include "proto/grid_schema.h"
#include "proto/grid_values.h"

namespace llmq {
namespace {

std::string IntRange(const GridParamSchema& p) {
  if (p.max_int == std::numeric_limits<int64_t>::max()) {
    return absl::StrCat("an integer >= ", p.min_int);
  }
  return absl::StrCat("an integer in ", p.min_int, "..", p.max_int);
}

std::string Expectation(const GridParamSchema& p) {
  switch (p.type) {
    case GridParamType::kInt:
      if (!p.minus_one_means.empty()) {
        return absl::StrCat("-1 (", p.minus_one_means, ") or ", IntRange(p));
      }
      return IntRange(p);
    case GridParamType::kFloat:
      return absl::StrCat("a number in ", CanonicalFloat(p.min_float), "..",
                          CanonicalFloat(p.max_float));
    case GridParamType::kBool:
      return "true or false";
    case GridParamType::kChoice:
      return absl::StrCat("one of ", absl::StrJoin(p.choices, ", "));
    case GridParamType::kString:
      return "text";
    case GridParamType::kDataset:
      return absl::StrCat(absl::StrJoin(BundledDatasets(), ", "),
                          " or a path (containing / or a file extension)");
    case GridParamType::kPath:
      return "a path";
    case GridParamType::kIntList:
      return "comma-separated positive integers in one string, like \"128,512\"";
    case GridParamType::kPatternList:
      return "comma-separated module-name patterns in one string, like \"lm_head,model.*\"";
  }
  return "a value";
}

absl::Status Invalid(const GridParamSchema& p, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(p.name, ": expected ", Expectation(p), ", got \"", text, "\""));
}

bool LooksLikePath(absl::string_view value) {
  return value.find('/') != absl::string_view::npos || value.find('.') != absl::string_view::npos;
}

absl::StatusOr<std::string> ResolvePath(const GridParamSchema& p, absl::string_view grid_file,
                                        absl::string_view text) {
  absl::StatusOr<std::string> path = ResolveGridPath(grid_file, text);
  if (!path.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(p.name, ": ", path.status().message()));
  }
  return path;
}

}  // namespace

absl::StatusOr<std::string> CanonicalDtype(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "float32" || lower == "fp32" || lower == "f32") return std::string("float32");
  if (lower == "bfloat16" || lower == "bf16") return std::string("bfloat16");
  if (lower == "float16" || lower == "fp16" || lower == "f16" || lower == "half") {
    return std::string("float16");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dtype: expected float32, bfloat16 or float16, got \"", text, "\""));
}

absl::StatusOr<std::string> CanonicalParamValue(const GridParamSchema& p,
                                                absl::string_view text,
                                                absl::string_view grid_file) {
  switch (p.type) {
    case GridParamType::kInt: {
      absl::StatusOr<int64_t> value = ParseGridInt(text);
      if (!value.ok()) return Invalid(p, text);
      const bool minus_one = *value == -1 && !p.minus_one_means.empty();
      if (!minus_one && (*value < p.min_int || *value > p.max_int)) return Invalid(p, text);
      return absl::StrCat(*value);
    }
    case GridParamType::kFloat: {
      absl::StatusOr<double> value = ParseGridFloat(text);
      if (!value.ok() || *value < p.min_float || *value > p.max_float) return Invalid(p, text);
      return CanonicalFloat(*value);
    }
    case GridParamType::kBool: {
      absl::StatusOr<bool> value = ParseGridBool(text);
      if (!value.ok()) return Invalid(p, text);
      return CanonicalBool(*value);
    }
    case GridParamType::kChoice:
      for (const std::string& choice : p.choices) {
        if (choice == text) return choice;
      }
      return Invalid(p, text);
    case GridParamType::kString:
      return std::string(text);
    case GridParamType::kDataset:
      if (IsBundledDataset(text)) return std::string(text);
      if (!LooksLikePath(text)) return Invalid(p, text);
      return ResolvePath(p, grid_file, text);
    case GridParamType::kPath:
      return ResolvePath(p, grid_file, text);
    case GridParamType::kIntList: {
      absl::StatusOr<std::string> value = CanonicalIntList(text);
      if (!value.ok()) return Invalid(p, text);
      return value;
    }
    case GridParamType::kPatternList: {
      absl::StatusOr<std::string> value = CanonicalPatternList(text);
      if (!value.ok()) return Invalid(p, text);
      return value;
    }
  }
  return Invalid(p, text);
}

std::string DescribeParam(const GridParamSchema& p) {
  std::string text = absl::StrCat(p.name, " (", Expectation(p));
  if (p.has_default) {
    absl::StrAppend(&text, ", default ",
                    p.default_value.empty() ? "\"\"" : p.default_value);
  } else if (!p.derived) {
    absl::StrAppend(&text, ", required");
  }
  absl::StrAppend(&text, ")");
  return text;
}

absl::StatusOr<std::map<std::string, std::string>> CompleteParams(
    const GridEntrySchema& entry, const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> params;
  for (const auto& [name, value] : given) {
    const GridParamSchema* param = entry.FindParam(name);
    if (param == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(entry.name, " has no parameter ", name));
    }
    // An empty grid file name leaves resolved paths as they are (only normalized).
    absl::StatusOr<std::string> canonical = CanonicalParamValue(*param, value, "");
    if (!canonical.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry.name, ": ", canonical.status().message()));
    }
    params[name] = *std::move(canonical);
  }
  for (const GridParamSchema& param : entry.params) {
    if (params.count(param.name) != 0 || param.derived) continue;
    if (!param.has_default) {
      return absl::InvalidArgumentError(absl::StrCat(
          entry.name, ": ", param.name, " is required (", param.doc, ")"));
    }
    params[param.name] = param.default_value;
  }
  absl::Status finished = FinishTaskParams(entry.name, &params);
  if (!finished.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(entry.name, ": ", finished.message()));
  }
  return params;
}

bool IsFileValue(const GridParamSchema& p, absl::string_view canonical_value) {
  if (p.type == GridParamType::kPath) return true;
  return p.type == GridParamType::kDataset && !IsBundledDataset(canonical_value);
}

}  // namespace llmq
