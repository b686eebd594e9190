#include "common/corpus.h"

#include <nlohmann/json.hpp>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/status.h"

#ifndef LLMQ_DEFAULT_ASSETS_DIR
#define LLMQ_DEFAULT_ASSETS_DIR "assets"
#endif

namespace llmq {

std::string AssetsDir() {
  if (const char* env = std::getenv("LLMQ_ASSETS_DIR"); env != nullptr && *env != '\0') return env;
  if (IsDirectory(LLMQ_DEFAULT_ASSETS_DIR)) return LLMQ_DEFAULT_ASSETS_DIR;
  return "assets";
}

std::string AssetPath(const std::string& relative) { return JoinPath(AssetsDir(), relative); }

std::string DefaultCorpusFormat(absl::string_view dataset) {
  if (dataset == "tinystories") return "paragraphs";
  if (dataset == "c4" || absl::EndsWith(dataset, ".jsonl")) return "jsonl";
  return "text";
}

absl::StatusOr<ResolvedCorpus> ResolveCorpus(const CorpusSpec& spec) {
  struct Bundled { const char* name; const char* path; };
  static constexpr Bundled kBundled[] = {
      {"wikitext2", "data/wikitext2/wiki.test.raw"},
      {"tinystories", "data/tinystories/tinystories_val.txt"},
      {"c4", "data/calib/c4_sample.jsonl"},
  };
  ResolvedCorpus out;
  out.format = spec.format.empty() ? DefaultCorpusFormat(spec.dataset) : spec.format;
  for (const Bundled& b : kBundled) {
    if (spec.dataset == b.name) {
      out.path = AssetPath(b.path);
      break;
    }
  }
  if (out.path.empty()) {
    if (spec.dataset.empty()) return absl::InvalidArgumentError("dataset: empty name");
    if (!FileExists(spec.dataset)) {
      return absl::NotFoundError(absl::StrCat(
          "dataset '", spec.dataset,
          "': neither a bundled name (wikitext2, tinystories, c4) nor an existing file"));
    }
    out.path = spec.dataset;
  }
  if (out.format != "text" && out.format != "paragraphs" && out.format != "jsonl") {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset '", spec.dataset, "': unknown format '", out.format,
        "' (expected text, paragraphs or jsonl)"));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> LoadCorpus(const CorpusSpec& spec) {
  LLMQ_ASSIGN_OR_RETURN(ResolvedCorpus corpus, ResolveCorpus(spec));
  LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(corpus.path));
  std::vector<std::string> docs;
  if (corpus.format == "text") {
    docs.push_back(absl::StrReplaceAll(text, {{"\r\n", "\n"}}));
  } else if (corpus.format == "paragraphs") {
    for (absl::string_view piece : absl::StrSplit(text, "\n\n")) {
      absl::string_view stripped = absl::StripAsciiWhitespace(piece);
      if (!stripped.empty()) docs.emplace_back(stripped);
    }
  } else {
    int line_number = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(corpus.path, ":", line_number, ": not a JSON object"));
      }
      auto it = j.find(spec.field);
      if (it == j.end() || !it->is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            corpus.path, ":", line_number, ": no string field '", spec.field, "'"));
      }
      docs.push_back(it->get<std::string>());
    }
  }
  if (docs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(corpus.path, ": no documents"));
  }
  return docs;
}

}  // namespace llmq
