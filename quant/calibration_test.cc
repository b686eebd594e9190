#include "quant/calibration.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/corpus.h"
#include "common/files.h"

namespace llmq {
namespace {

// One token per byte (id = byte + 3) after BOS = 1: enough to test windowing.
class ByteTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> Encode(absl::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(1);
    for (unsigned char c : text) ids.push_back(c + 3);
    return ids;
  }
  std::string Decode(const std::vector<int32_t>&) const override { return ""; }
  int32_t vocab_size() const override { return 259; }
  std::optional<int32_t> bos_id() const override { return 1; }
  std::optional<int32_t> eos_id() const override { return 2; }
  std::string Describe() const override { return "bytes"; }
};

std::vector<int64_t> Row(const at::Tensor& t, int64_t i) {
  at::Tensor r = t[i].contiguous();
  return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

// "ab" -> [1, 100, 101], "cde" -> [1, 102, 103, 104], "f" -> [1, 105]; stream of 9 tokens;
// two windows of 4: [1 100 101 1] [102 103 104 1].
TEST(CalibrationTest, FirstModeConcatenatesDocumentsWithBos) {
  CalibrationSpec spec;
  spec.mode = "first";
  spec.samples = 2;
  spec.seq_len = 4;
  auto set = DrawCalibration({"ab", "cde", "f", "never needed"}, ByteTokenizer(), spec);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->tokens.sizes().vec(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(set->tokens.scalar_type(), at::kLong);
  EXPECT_EQ(Row(set->tokens, 0), (std::vector<int64_t>{1, 100, 101, 1}));
  EXPECT_EQ(Row(set->tokens, 1), (std::vector<int64_t>{102, 103, 104, 1}));
  EXPECT_EQ(set->sampling, "first");
  EXPECT_EQ(set->documents_encoded, 3);  // the fourth was not needed
}

TEST(CalibrationTest, FirstModeFailsWhenCorpusIsTooShort) {
  CalibrationSpec spec;
  spec.mode = "first";
  spec.samples = 3;
  spec.seq_len = 4;
  auto set = DrawCalibration({"ab", "cde"}, ByteTokenizer(), spec);
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
}

// Fingerprint = SHA-256 of the int32 little-endian bytes 01000000 02010000 ffffffff 70110100
// (python: hashlib.sha256(struct.pack('<4i', 1, 258, -1, 70000)).hexdigest()).
TEST(CalibrationTest, FingerprintIsSha256OfInt32LittleEndian) {
  at::Tensor t = at::tensor(std::vector<int64_t>{1, 258, -1, 70000}, at::kLong).view({2, 2});
  EXPECT_EQ(TokenFingerprint(t),
            "c2097ec47772f3c1219b28f8ddc58011c9f0e1266fdd860bf7dfdb1bac1828f4");
}

std::vector<std::vector<int32_t>> CountingDocuments(int n, int length, int32_t base) {
  std::vector<std::vector<int32_t>> docs(n);
  for (int d = 0; d < n; ++d) {
    for (int i = 0; i < length; ++i) docs[d].push_back(base + d * 1000 + i);
  }
  return docs;
}

// Long documents: each window is a contiguous run inside one document.
TEST(CalibrationTest, RandomModeDrawsWindowsInsideDocumentsDeterministically) {
  auto docs = CountingDocuments(5, 300, 10000);
  CalibrationSpec spec;
  spec.samples = 6;
  spec.seq_len = 64;
  spec.seed = 7;
  auto a = DrawCalibration(docs, spec);
  auto b = DrawCalibration(docs, spec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sampling, "random-document");
  EXPECT_TRUE(a->tokens.equal(b->tokens));
  EXPECT_EQ(a->fingerprint, b->fingerprint);
  for (int64_t i = 0; i < 6; ++i) {
    std::vector<int64_t> row = Row(a->tokens, i);
    const int64_t doc = (row[0] - 10000) / 1000;
    for (int64_t j = 1; j < 64; ++j) EXPECT_EQ(row[j], row[j - 1] + 1);
    EXPECT_EQ((row[63] - 10000) / 1000, doc);
  }
  spec.seed = 8;
  auto c = DrawCalibration(docs, spec);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->tokens.equal(a->tokens));
  EXPECT_NE(c->fingerprint, a->fingerprint);
}

// Documents shorter than a window: windows come from the concatenated stream.
TEST(CalibrationTest, RandomModeFallsBackToTheStreamForShortDocuments) {
  auto docs = CountingDocuments(40, 20, 0);
  CalibrationSpec spec;
  spec.samples = 4;
  spec.seq_len = 50;
  spec.seed = 3;
  auto set = DrawCalibration(docs, spec);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->sampling, "random-stream");
  EXPECT_EQ(set->tokens.sizes().vec(), (std::vector<int64_t>{4, 50}));
  EXPECT_EQ(set->tokens_encoded, 800);
  spec.seq_len = 801;
  EXPECT_FALSE(DrawCalibration(docs, spec).ok());
}

TEST(CalibrationTest, RejectsBadSpecs) {
  CalibrationSpec spec;
  spec.mode = "middle";
  EXPECT_FALSE(DrawCalibration(CountingDocuments(1, 10, 0), spec).ok());
  spec.mode = "first";
  spec.samples = 0;
  EXPECT_FALSE(DrawCalibration(CountingDocuments(1, 10, 0), spec).ok());
}

// The bundled c4 sample in the first-n protocol (shapes and determinism with a stand-in
// tokenizer; the real token count and hash are checked below once the fixture exists).
TEST(CalibrationTest, BundledC4FirstWindowsAreDeterministic) {
  CalibrationSpec spec;
  spec.dataset = "c4";
  spec.mode = "first";
  spec.samples = 32;
  spec.seq_len = 512;
  auto a = LoadCalibration(ByteTokenizer(), spec);
  auto b = LoadCalibration(ByteTokenizer(), spec);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->tokens.sizes().vec(), (std::vector<int64_t>{32, 512}));
  EXPECT_EQ(a->tokens[0][0].item<int64_t>(), 1);  // BOS of the first document
  EXPECT_EQ(a->fingerprint, b->fingerprint);
}

// The fixtures engineer's independent recording: first 64 c4 documents, BOS each,
// concatenated, first 32 windows of 512, with the llama2.c tokenizer.
TEST(CalibrationTest, C4FirstWindowsMatchTheReferenceRecording) {
  const std::string fixture = "tests/fixtures/reference/stories260k.json";
  if (!FileExists(fixture)) GTEST_SKIP() << fixture << " not recorded yet (branch fixtures)";
  auto tokenizer = LoadLlama2cTokenizer("assets/models/stories260K/tok512.bin");
  if (!tokenizer.ok()) GTEST_SKIP() << "llama2.c tokenizer unavailable: " << tokenizer.status();
  auto text = ReadFile(fixture);
  ASSERT_TRUE(text.ok());
  nlohmann::json ref = nlohmann::json::parse(*text)["calibration"];
  auto docs = LoadCorpus({"c4", "", "text"});
  ASSERT_TRUE(docs.ok()) << docs.status();
  docs->resize(ref["documents"].get<size_t>());
  CalibrationSpec spec;
  spec.mode = "first";
  spec.samples = ref["windows"].get<int64_t>();
  spec.seq_len = ref["window_tokens"].get<int64_t>();
  auto set = DrawCalibration(*docs, **tokenizer, spec);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->fingerprint, ref["calib_tokens_sha256_int32le"].get<std::string>());
  std::vector<std::vector<int32_t>> all;
  for (const std::string& d : *docs) all.push_back((*tokenizer)->Encode(d, true));
  int64_t total = 0;
  for (const auto& ids : all) total += static_cast<int64_t>(ids.size());
  EXPECT_EQ(total, ref["total_tokens_64_docs"].get<int64_t>());
}

}  // namespace
}  // namespace llmq
