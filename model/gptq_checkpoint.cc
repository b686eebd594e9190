#include "model/gptq_checkpoint.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/status.h"

namespace llmq {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "GPTQ words are read as little-endian bytes");

std::string Shape(const at::Tensor& t) { return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]"); }

int64_t Words(int64_t n, int bits) { return (n * bits + 31) / 32; }

// codes (rows, n) uint8 -> (rows, Words(n, bits)) int32, the bit stream zero-padded.
at::Tensor PackWords(const at::Tensor& codes, int bits) {
  at::Tensor bytes = PackCodes(codes.cpu().contiguous(), bits);  // (rows, ceil(n*bits/8))
  at::Tensor padded = at::zeros({codes.size(0), Words(codes.size(1), bits) * 4}, at::kByte);
  padded.narrow(1, 0, bytes.size(1)).copy_(bytes);
  return padded.view(at::kInt);
}

// words (rows, w) int32 -> the first n codes of each row, (rows, n) uint8.
at::Tensor UnpackWords(const at::Tensor& words, int bits, int64_t n) {
  return UnpackCodes(words.cpu().contiguous().view(at::kByte), bits, n);
}

// The v1 "zero - 1" offset for 2/4/8 bits, as GPTQModel applies it: a constant with a 1
// in the lowest bit of every field, subtracted from (sign -1) or added to (+1) each whole
// 32-bit word modulo 2^32. words is (rows, w) holding n fields per row; padding fields of
// a row's last word are left alone (GPTQModel's shapes never have any).
void ShiftV1Words(at::Tensor& words, int bits, int64_t n, int sign) {
  const int per_word = 32 / bits;
  const int64_t w = words.size(1);
  uint32_t* p = reinterpret_cast<uint32_t*>(words.data_ptr<int32_t>());
  for (int64_t i = 0; i < words.numel(); ++i) {
    const int64_t used = std::min<int64_t>(per_word, n - (i % w) * per_word);
    uint32_t ones = 0;
    for (int k = 0; k < used; ++k) ones |= uint32_t{1} << (k * bits);
    p[i] = sign < 0 ? p[i] - ones : p[i] + ones;
  }
}

bool IsGptqBits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

}  // namespace

absl::StatusOr<GptqTensors> ToGptqTensors(const QuantizedLinear& layer, bool v1_zeros) {
  return CatchExceptions("GPTQ packing", [&]() -> absl::StatusOr<GptqTensors> {
    const int bits = layer.bits();
    if (!IsGptqBits(bits)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the GPTQ format holds 2, 3, 4 or 8 bits, not ", bits));
    }
    GptqTensors t;
    t.qweight = PackWords(layer.Codes(), bits).t().contiguous();  // (words_in, out)
    at::Tensor zeros = layer.Zeros().cpu().t().contiguous();       // (groups, out) uint8
    if (v1_zeros && bits == 3) zeros = at::bitwise_and(zeros.to(at::kInt) - 1, 7).to(at::kByte);
    t.qzeros = PackWords(zeros, bits);                              // (groups, words_out)
    if (v1_zeros && bits != 3) ShiftV1Words(t.qzeros, bits, layer.out_features(), -1);
    t.scales = layer.scales().cpu().t().contiguous();               // (groups, out) fp16
    const int64_t in = layer.in_features();
    const int64_t gs = layer.group_size() > 0 ? layer.group_size() : in;
    t.g_idx = layer.g_idx().defined()
                  ? layer.g_idx().cpu().to(at::kInt)
                  : at::div(at::arange(in, at::kLong), gs, "floor").to(at::kInt);  // (in)
    return t;
  });
}

absl::StatusOr<std::unique_ptr<QuantizedLinear>> FromGptqTensors(
    const GptqTensors& t, int64_t out, int64_t in, const GptqFormat& format,
    const at::Tensor& bias, at::ScalarType compute_dtype, at::Device device) {
  return CatchExceptions("GPTQ unpacking", [&]() -> absl::StatusOr<std::unique_ptr<QuantizedLinear>> {
    const int bits = format.bits;
    if (!IsGptqBits(bits)) {
      return absl::InvalidArgumentError(absl::StrCat("GPTQ bits must be 2, 3, 4 or 8, got ", bits));
    }
    auto expect = [&](const at::Tensor& x, const char* name, at::ScalarType dtype,
                      std::vector<int64_t> shape) -> absl::Status {
      if (!x.defined() || x.scalar_type() != dtype || x.sizes().vec() != shape) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, " must be ", c10::toString(dtype), " [", absl::StrJoin(shape, ", "), "], got ",
            x.defined() ? absl::StrCat(c10::toString(x.scalar_type()), " ", Shape(x)) : "nothing"));
      }
      return absl::OkStatus();
    };
    const int64_t groups = t.scales.defined() && t.scales.dim() == 2 ? t.scales.size(0) : 0;
    LLMQ_RETURN_IF_ERROR(expect(t.qweight, "qweight", at::kInt, {Words(in, bits), out}));
    LLMQ_RETURN_IF_ERROR(expect(t.qzeros, "qzeros", at::kInt, {groups, Words(out, bits)}));
    if (!t.scales.defined() || !at::isFloatingType(t.scales.scalar_type()) ||
        t.scales.sizes().vec() != std::vector<int64_t>{groups, out} || groups == 0) {
      return absl::InvalidArgumentError(absl::StrCat("scales must be (groups, ", out, "), got ",
                                                     t.scales.defined() ? Shape(t.scales) : "nothing"));
    }
    at::Tensor codes = UnpackWords(t.qweight.t(), bits, in);  // (out, in)
    at::Tensor zero_words = t.qzeros.cpu().contiguous().clone();
    if (format.v1_zeros && bits != 3) ShiftV1Words(zero_words, bits, out, +1);
    at::Tensor zeros = UnpackWords(zero_words, bits, out);  // (groups, out)
    if (format.v1_zeros && bits == 3) zeros = at::bitwise_and(zeros.to(at::kInt) + 1, 7);
    at::Tensor g_idx;
    if (t.g_idx.defined()) {
      if (t.g_idx.dim() != 1 || t.g_idx.size(0) != in || at::isFloatingType(t.g_idx.scalar_type())) {
        return absl::InvalidArgumentError(absl::StrCat("g_idx must be integer [", in, "], got ", Shape(t.g_idx)));
      }
      const int64_t gs = format.group_size > 0 ? format.group_size : in;
      at::Tensor plain = at::div(at::arange(in, at::kLong), gs, "floor");
      if (!t.g_idx.cpu().to(at::kLong).equal(plain)) g_idx = t.g_idx.cpu().to(at::kInt);
    }
    return QuantizedLinear::Create(codes.to(device), t.scales.cpu().to(at::kFloat).t(),
                                   zeros.t().to(at::kFloat), g_idx, bias, bits, format.group_size,
                                   compute_dtype);
  });
}

absl::StatusOr<std::optional<GptqFormat>> ReadGptqFormat(const std::string& dir) {
  nlohmann::json q;
  std::string source = JoinPath(dir, "quantize_config.json");
  if (FileExists(source)) {
    LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(source));
    q = nlohmann::json::parse(text, nullptr, false);
  } else {
    source = JoinPath(dir, "config.json");
    if (!FileExists(source)) return std::optional<GptqFormat>();
    LLMQ_ASSIGN_OR_RETURN(std::string text, ReadFile(source));
    nlohmann::json config = nlohmann::json::parse(text, nullptr, false);
    if (config.is_discarded() || !config.is_object() || !config.contains("quantization_config")) {
      return std::optional<GptqFormat>();  // config.json errors are LoadHfConfig's to report
    }
    q = config["quantization_config"];
    source += " quantization_config";
  }
  if (q.is_discarded() || !q.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  return CatchExceptions(source, [&]() -> absl::StatusOr<std::optional<GptqFormat>> {
    const std::string method = q.value("quant_method", std::string("gptq"));
    // llmq's own layers with no GPTQ layer beside them (model/llmq_checkpoint.h).
    if (method == "llmq") return std::optional<GptqFormat>();
    if (method != "gptq") {
      return absl::UnimplementedError(
          absl::StrCat(source, ": quant_method '", method, "' is not supported (only gptq)"));
    }
    // GPTQModel writes "checkpoint_format"; some versions "format".
    const std::string fmt = q.value("checkpoint_format", q.value("format", std::string("gptq")));
    if (fmt != "gptq" && fmt != "gptq_v2") {
      return absl::UnimplementedError(absl::StrCat(
          source, ": checkpoint_format '", fmt, "' is not supported (gptq or gptq_v2)"));
    }
    if (!q.contains("bits") || !q["bits"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": 'bits' must be an integer"));
    }
    GptqFormat f;
    f.bits = q["bits"].get<int>();
    f.group_size = q.value("group_size", int64_t{-1});
    f.desc_act = q.value("desc_act", false);
    f.sym = q.value("sym", true);
    f.lm_head = q.value("lm_head", false);
    f.v1_zeros = fmt == "gptq";
    if (!IsGptqBits(f.bits)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": bits must be 2, 3, 4 or 8, got ", f.bits));
    }
    if (f.group_size == 0 || f.group_size < -1) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": group_size must be -1 or positive, got ", f.group_size));
    }
    return std::optional<GptqFormat>(f);
  });
}

absl::StatusOr<std::pair<int64_t, int64_t>> GptqLinearShape(const std::string& name, const GptqFormat& format,
                                                            const Checkpoint& checkpoint) {
  LLMQ_ASSIGN_OR_RETURN(at::Tensor qweight, checkpoint.Get(name + ".qweight"));
  if (qweight.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint.PathOf(name + ".qweight"), ": tensor '", name,
                                                   ".qweight' must be 2-D (words, out), got ", Shape(qweight)));
  }
  int64_t in = qweight.size(0) * 32 / format.bits;
  if (checkpoint.Has(name + ".g_idx")) {
    LLMQ_ASSIGN_OR_RETURN(at::Tensor g_idx, checkpoint.Get(name + ".g_idx"));
    in = g_idx.dim() == 1 ? g_idx.size(0) : 0;
  }
  return std::make_pair(qweight.size(1), in);
}

absl::StatusOr<std::unique_ptr<QuantizedLinear>> LoadGptqLinear(const std::string& name, int64_t out, int64_t in,
                                                                const GptqFormat& format,
                                                                const Checkpoint& checkpoint,
                                                                const at::Tensor& bias,
                                                                at::ScalarType compute_dtype, at::Device device) {
  GptqTensors t;
  LLMQ_ASSIGN_OR_RETURN(t.qweight, checkpoint.Get(name + ".qweight"));
  LLMQ_ASSIGN_OR_RETURN(t.qzeros, checkpoint.Get(name + ".qzeros"));
  LLMQ_ASSIGN_OR_RETURN(t.scales, checkpoint.Get(name + ".scales"));
  if (checkpoint.Has(name + ".g_idx")) {
    LLMQ_ASSIGN_OR_RETURN(t.g_idx, checkpoint.Get(name + ".g_idx"));
  }
  auto layer = FromGptqTensors(t, out, in, format, bias, compute_dtype, device);
  if (!layer.ok()) return Annotate(layer.status(), name);
  return layer;
}

}  // namespace llmq
