// Wildcard match of layer names, shared by the grid's `overrides` and the quantizers' `keep`.
#ifndef LLMQ_COMMON_GLOB_H_
#define LLMQ_COMMON_GLOB_H_

#include "absl/strings/string_view.h"

namespace llmq {

// Glob match over a whole layer name: '*' matches any run of characters (dots too),
// '?' one character, everything else itself. "model.layers.0.*" matches every linear of
// block 0 (not block 10); "*.down_proj" every down projection; "lm_head" just that.
bool GlobMatch(absl::string_view pattern, absl::string_view name);

}  // namespace llmq

#endif  // LLMQ_COMMON_GLOB_H_
