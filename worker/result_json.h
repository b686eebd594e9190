// The JSON object `llmq-worker run-job` prints for a person or a script:
//   {"metrics": {"ppl": {"value": 12.3, "unit": ""}, ...},
//    "provenance": {"torch": "1.13.1", ...},
//    "timings": {"load": 1.2, "quantize": 30.5, ...}}     (seconds; repeated stages summed)
#ifndef LLMQ_WORKER_RESULT_JSON_H_
#define LLMQ_WORKER_RESULT_JSON_H_

#include <string>

#include "proto/llmq.pb.h"

namespace llmq {

// Pretty-printed with `indent` spaces (-1: one line). Non-finite values become null.
std::string JobResultToJson(const v1::JobResult& result, int indent = 2);

}  // namespace llmq

#endif  // LLMQ_WORKER_RESULT_JSON_H_
