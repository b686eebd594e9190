// Text corpora for evaluation and calibration: a bundled dataset name or a path, read as
// one document (plain text), paragraphs (split on empty lines), or JSONL (one JSON
// object per line, a string field per document).
#ifndef LLMQ_COMMON_CORPUS_H_
#define LLMQ_COMMON_CORPUS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmq {

struct CorpusSpec {
  std::string dataset;  // bundled name (wikitext2, tinystories, c4) or a file path
  std::string format;   // text | paragraphs | jsonl; empty = the dataset's default
  std::string field = "text";  // JSONL field holding the document
};

struct ResolvedCorpus {
  std::string path;
  std::string format;
};

// Bundled names map to files under the assets directory:
//   wikitext2   -> data/wikitext2/wiki.test.raw       (text)
//   tinystories -> data/tinystories/tinystories_val.txt (paragraphs)
//   c4          -> data/calib/c4_sample.jsonl          (jsonl, field "text")
// Any other name is a path; its format defaults by extension (.jsonl -> jsonl, else text).
absl::StatusOr<ResolvedCorpus> ResolveCorpus(const CorpusSpec& spec);

// The format a corpus is read in when none is given: tinystories -> paragraphs (stories
// separated by blank lines, a BOS each), c4 and *.jsonl -> jsonl, anything else (wikitext2:
// the GPTQ protocol joins the whole test set) -> text. The grid fills the ppl task's
// `format` with it, so a job's key says which was used.
std::string DefaultCorpusFormat(absl::string_view dataset);

// The documents of a corpus:
//   text:       the whole file as one document, CRLF normalised to LF;
//   paragraphs: the file split on "\n\n", each piece stripped of surrounding whitespace,
//               empty pieces dropped;
//   jsonl:      the `field` string of every non-empty line.
// Errors name the file (and line for JSONL).
absl::StatusOr<std::vector<std::string>> LoadCorpus(const CorpusSpec& spec);

// The directory of bundled assets: $LLMQ_ASSETS_DIR if set, else the source tree's
// assets/ (compiled in), else ./assets.
std::string AssetsDir();
std::string AssetPath(const std::string& relative);

}  // namespace llmq

#endif  // LLMQ_COMMON_CORPUS_H_
