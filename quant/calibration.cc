#include "quant/calibration.h"

#include <ATen/ATen.h>

#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/corpus.h"
#include "common/hash.h"
#include "common/status.h"

namespace llmq {
namespace {

// Uniform integer in [0, n) from a 64-bit engine, by rejection: portable across standard
// libraries (std::uniform_int_distribution is not).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // a multiple of n
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

absl::Status CheckSpec(const CalibrationSpec& spec) {
  if (spec.samples <= 0 || spec.seq_len <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("calibration samples (", spec.samples,
                                                   ") and seq_len (", spec.seq_len,
                                                   ") must be positive"));
  }
  if (spec.mode != "random" && spec.mode != "first") {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration mode '", spec.mode, "': expected random or first"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TokenFingerprint(const at::Tensor& tokens) {
  at::Tensor ids = tokens.to(at::kCPU, at::kInt).contiguous();
  std::vector<char> bytes(static_cast<size_t>(ids.numel()) * 4);
  const int32_t* data = ids.data_ptr<int32_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const uint32_t v = static_cast<uint32_t>(data[i]);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((v >> (8 * b)) & 0xff);
  }
  return Sha256Hex(absl::string_view(bytes.data(), bytes.size()));
}

std::string DescribeCalibration(const CalibrationSpec& spec) {
  return absl::StrCat(spec.dataset, spec.format.empty() ? "" : absl::StrCat(":", spec.format), " ",
                      spec.mode, " ", spec.samples, "x", spec.seq_len, " seed=", spec.seed);
}

absl::StatusOr<CalibrationSet> DrawCalibration(const std::vector<std::vector<int32_t>>& documents,
                                               const CalibrationSpec& spec) {
  LLMQ_RETURN_IF_ERROR(CheckSpec(spec));
  const int64_t n = spec.samples, len = spec.seq_len;
  CalibrationSet set;
  set.documents_encoded = static_cast<int64_t>(documents.size());
  std::vector<int32_t> stream;
  for (const auto& doc : documents) stream.insert(stream.end(), doc.begin(), doc.end());
  set.tokens_encoded = static_cast<int64_t>(stream.size());
  const int64_t total = set.tokens_encoded;

  at::Tensor tokens = at::empty({n, len}, at::kLong);  // (samples, seq_len)
  int64_t* out = tokens.data_ptr<int64_t>();
  auto copy_window = [&](int64_t row, const int32_t* src) {
    for (int64_t j = 0; j < len; ++j) out[row * len + j] = src[j];
  };

  if (spec.mode == "first") {
    if (total < n * len) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration corpus has ", total, " tokens in ", documents.size(),
                       " documents; ", n, " windows of ", len, " need ", n * len));
    }
    for (int64_t i = 0; i < n; ++i) copy_window(i, stream.data() + i * len);
    set.sampling = "first";
  } else {
    std::mt19937_64 rng(spec.seed);
    std::vector<size_t> long_docs;
    int64_t long_tokens = 0;
    for (size_t d = 0; d < documents.size(); ++d) {
      if (static_cast<int64_t>(documents[d].size()) >= len) {
        long_docs.push_back(d);
        long_tokens += static_cast<int64_t>(documents[d].size());
      }
    }
    if (!long_docs.empty() && long_tokens >= n * len) {
      for (int64_t i = 0; i < n; ++i) {
        const auto& doc = documents[long_docs[UniformBelow(rng, long_docs.size())]];
        const uint64_t start = UniformBelow(rng, doc.size() - len + 1);
        copy_window(i, doc.data() + start);
      }
      set.sampling = "random-document";
    } else {
      if (total < len) {
        return absl::InvalidArgumentError(
            absl::StrCat("calibration corpus has ", total, " tokens; a window needs ", len));
      }
      for (int64_t i = 0; i < n; ++i) {
        const uint64_t start = UniformBelow(rng, static_cast<uint64_t>(total - len + 1));
        copy_window(i, stream.data() + start);
      }
      set.sampling = "random-stream";
    }
  }
  set.tokens = tokens;
  set.fingerprint = TokenFingerprint(tokens);
  return set;
}

absl::StatusOr<CalibrationSet> DrawCalibration(const std::vector<std::string>& documents,
                                               const Tokenizer& tokenizer,
                                               const CalibrationSpec& spec) {
  LLMQ_RETURN_IF_ERROR(CheckSpec(spec));
  const int64_t needed = spec.samples * spec.seq_len;
  std::vector<std::vector<int32_t>> encoded;
  int64_t total = 0;
  for (const std::string& doc : documents) {
    if (spec.mode == "first" && total >= needed) break;
    encoded.push_back(tokenizer.Encode(doc, /*add_special=*/true));
    total += static_cast<int64_t>(encoded.back().size());
  }
  return DrawCalibration(encoded, spec);
}

absl::StatusOr<CalibrationSet> LoadCalibration(const Tokenizer& tokenizer,
                                               const CalibrationSpec& spec) {
  CorpusSpec corpus;
  corpus.dataset = spec.dataset;
  corpus.format = spec.format;
  LLMQ_ASSIGN_OR_RETURN(std::vector<std::string> documents, LoadCorpus(corpus));
  auto set = DrawCalibration(documents, tokenizer, spec);
  if (!set.ok()) return Annotate(set.status(), absl::StrCat("calibration ", spec.dataset));
  return set;
}

}  // namespace llmq
