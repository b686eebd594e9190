// What the grid file may say: the known methods and tasks, the calibration block, and each
// parameter's type, range, default and whether it changes results (batch_size does not, so
// it stays out of canonical keys). The table itself lives in schema.cc, the one place
// to edit when a method or task gains a parameter; CanonicalParamValue checks values against it.
#ifndef LLMQ_GRID_SCHEMA_H_
#define LLMQ_GRID_SCHEMA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmq {

enum class GridParamType {
  kInt,          // decimal integer in [min_int, max_int] (or -1 when minus_one_means is set)
  kFloat,        // finite number in [min_float, max_float]
  kBool,         // true | false
  kChoice,       // one of `choices`
  kString,       // any text
  kDataset,      // a bundled dataset name (BundledDatasets()) or a path
  kPath,         // a path, resolved against the grid file's directory ("" where that is the
                 // default: the file bundled under assets/data)
  kIntList,      // one string of comma-separated positive integers: "128,512,2048"
  kPatternList,  // one string of comma-separated module-name patterns: "lm_head,model.layers.0.*"
  kOverrides,    // per-layer precision (grid/overrides.h): a YAML list of maps in the file,
                 // one canonical string in specs and keys
};

struct GridParamSchema {
  std::string name;
  GridParamType type = GridParamType::kString;
  std::string default_value;    // canonical; meaningful when has_default
  bool has_default = true;      // false: required, unless `derived`
  bool derived = false;         // the default depends on other parameters (FinishTaskParams)
  bool affects_result = true;   // false: not part of canonical keys
  // Added after keys were published: at its default the parameter stays out of canonical
  // keys (and quantization descriptions), so every job written without it keeps its key.
  bool keyed_only_when_set = false;
  int64_t min_int = 0, max_int = 0;
  std::string minus_one_means;  // kInt: -1 is also allowed and means this ("whole row")
  double min_float = 0, max_float = 0;
  std::vector<std::string> choices;
  std::string doc;              // one line for error messages and the reference
};

// A method, a task, or the calibration block.
struct GridEntrySchema {
  std::string name;
  bool calibrates = false;  // methods: jobs get a CalibrationSpec (and calibration enters keys)
  std::string doc;
  std::vector<GridParamSchema> params;

  const GridParamSchema* FindParam(absl::string_view param) const;
  std::vector<std::string> ParamNames() const;
};

const std::vector<GridEntrySchema>& GridMethodSchemas();
const std::vector<GridEntrySchema>& GridTaskSchemas();
const GridEntrySchema& GridCalibrationSchema();

// nullptr when unknown.
const GridEntrySchema* FindGridMethod(absl::string_view name);
const GridEntrySchema* FindGridTask(absl::string_view name);

std::vector<std::string> GridMethodNames();
std::vector<std::string> GridTaskNames();

// Dataset names the worker resolves to files under assets/data: wikitext2, tinystories, c4.
const std::vector<std::string>& BundledDatasets();
bool IsBundledDataset(absl::string_view value);

// float32 | bfloat16 | float16 from those names or fp32, f32, bf16, fp16, f16, half.
absl::StatusOr<std::string> CanonicalDtype(absl::string_view text);

// The canonical string of `text` as a value of `param`, or InvalidArgument naming the
// parameter and what was expected ("bits: expected an integer in 2..8, got \"9\"").
// Paths resolve against the directory of `grid_file` (values.h).
absl::StatusOr<std::string> CanonicalParamValue(const GridParamSchema& param,
                                                absl::string_view text,
                                                absl::string_view grid_file);

// "bits (integer 2..8, default 4)", for listings in error messages.
std::string DescribeParam(const GridParamSchema& param);

// True when the canonical value of a kDataset or kPath parameter names a file rather than a
// bundled dataset: such values enter canonical keys as the file's identity, not its path.
bool IsFileValue(const GridParamSchema& param, absl::string_view canonical_value);

// After defaults are filled: computes derived defaults (ppl: format from the dataset, stride
// = context/2 for rolling; gsm8k: n_shot 8 with cot else 5, fewshot_seed = seed) and drops parameters that do not apply (ppl: stride unless
// rolling, field unless jsonl), so equivalent jobs have one key. Errors describe
// combinations that cannot run ("stride 600 exceeds context 512").
absl::Status FinishTaskParams(absl::string_view task, std::map<std::string, std::string>* params);

// The full parameter set of one variant of `entry`: given values canonicalized (paths only
// normalized, not re-resolved: they are resolved already), defaults filled in, then
// FinishTaskParams. Errors: an unknown parameter, a bad value, a missing required one.
absl::StatusOr<std::map<std::string, std::string>> CompleteParams(
    const GridEntrySchema& entry, const std::map<std::string, std::string>& given);

}  // namespace llmq

#endif  // LLMQ_GRID_SCHEMA_H_
