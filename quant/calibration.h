// Calibration token windows for the calibrated methods (GPTQ, AWQ/GSQ): `samples` windows
// of `seq_len` tokens drawn from a corpus, deterministic for a seed, with a fingerprint
// of the exact tokens for provenance.
//
// Modes:
//   first  — every document encoded with the tokenizer's special tokens (BOS for llama2.c
//            / Llama-2), the encodings concatenated in corpus order, windows
//            [i * seq_len, (i + 1) * seq_len) for i < samples. Documents are encoded only
//            until enough tokens exist. Fails when the corpus is too short.
//   random — GPTQ's recipe: every document encoded (with special tokens). When the
//            documents holding at least seq_len tokens hold at least samples * seq_len
//            tokens between them, each sample picks one of those documents uniformly and a
//            window uniformly inside it ("random-document"); otherwise each sample picks a
//            window start uniformly in the concatenated stream ("random-stream", used for
//            corpora of short documents such as TinyStories). Draws come from
//            std::mt19937_64 seeded with `seed`, turned into indices by rejection sampling
//            (not std::uniform_int_distribution, whose output differs between standard
//            libraries), so a seed gives the same windows everywhere, independent of
//            libtorch's RNG.
// The fingerprint is the SHA-256 of the tokens as int32 little-endian, row-major: the same
// bytes a Python reference hashes with numpy.asarray(ids, "<i4").tobytes().
#ifndef LLMQ_QUANT_CALIBRATION_H_
#define LLMQ_QUANT_CALIBRATION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/tokenizer.h"

namespace llmq {

struct CalibrationSpec {
  std::string dataset = "c4";  // bundled name (c4, wikitext2, tinystories) or a path
  std::string format;          // text | paragraphs | jsonl; empty = the dataset's default
  int64_t samples = 128;
  int64_t seq_len = 2048;
  uint64_t seed = 0;
  std::string mode = "random";  // random | first
};

struct CalibrationSet {
  at::Tensor tokens;        // (samples, seq_len) int64
  std::string fingerprint;  // SHA-256 hex of the tokens as int32 LE, row-major
  std::string sampling;     // "first", "random-document" or "random-stream"
  int64_t documents_encoded = 0;
  int64_t tokens_encoded = 0;  // tokens of the encoded documents (special tokens included)
};

// Draws windows from already-encoded documents (each a token list with its special tokens).
absl::StatusOr<CalibrationSet> DrawCalibration(const std::vector<std::vector<int32_t>>& documents,
                                               const CalibrationSpec& spec);

// Encodes `documents` with `tokenizer` (add_special = true; in `first` mode only as many as
// needed) and draws windows from them.
absl::StatusOr<CalibrationSet> DrawCalibration(const std::vector<std::string>& documents,
                                               const Tokenizer& tokenizer,
                                               const CalibrationSpec& spec);

// Loads the corpus named by spec.dataset / spec.format (common/corpus.h) and draws from it.
absl::StatusOr<CalibrationSet> LoadCalibration(const Tokenizer& tokenizer,
                                               const CalibrationSpec& spec);

// SHA-256 hex of an integer token tensor as int32 little-endian, row-major.
std::string TokenFingerprint(const at::Tensor& tokens);

// "c4 first 32x512 seed=0": the spec in a line, for provenance and logs.
std::string DescribeCalibration(const CalibrationSpec& spec);

}  // namespace llmq

#endif  // LLMQ_QUANT_CALIBRATION_H_
