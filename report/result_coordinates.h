// The grid coordinates of a result, by name: sweep, model, dtype, method, each method
// parameter (bits, group_size, ...), calibration.<field>, task, task.<param>, repeat.
// Tables pivot on them; plots split panels and series by them; --delta finds a result's
// unquantized baseline through them.
#ifndef LLMQ_REPORT_RESULT_COORDINATES_H_
#define LLMQ_REPORT_RESULT_COORDINATES_H_

#include <map>
#include <string>
#include <vector>

#include "proto/llmq.pb.h"

namespace llmq {

using Coordinates = std::map<std::string, std::string>;

// The coordinates of a job. Parameters a method does not have are absent.
Coordinates JobCoordinates(const v1::JobSpec& spec);

// The names `coordinates` have, in a stable, readable order: sweep, model, dtype, method,
// method parameters, calibration.*, task, task.*, repeat.
std::vector<std::string> CoordinateOrder(const std::vector<Coordinates>& coordinates);

// Whether `name` takes two values among the coordinates that have it (a parameter only
// some methods have does not vary by being absent from the others). With `within`, only
// among coordinates with the same value of `within`: task.limit does not vary within
// tasks when ppl has 16 windows and boolq 64 questions.
bool Varies(const std::vector<Coordinates>& coordinates, const std::string& name,
            const std::string& within = "");

// Whether `name` belongs to the quantization method: method, its parameters, calibration.*.
bool IsMethodCoordinate(const std::string& name);

// The values of `names` (missing ones as "-"), joined into one map key.
std::string CoordinateKey(const Coordinates& coordinates, const std::vector<std::string>& names);

// What a result shares with its unquantized baseline: every coordinate but the method's,
// the sweep (a baseline may come from an earlier sweep) and the repeat index.
std::string BaselineKey(const Coordinates& coordinates);

// The unquantized baseline's method name.
inline constexpr char kBaselineMethod[] = "none";

// A column-group or panel label: the values of `names`, parameters as "limit=4", names
// (task, method) as they are; empty values are left out.
std::vector<std::string> LabelParts(const Coordinates& coordinates,
                                    const std::vector<std::string>& names);

}  // namespace llmq

#endif  // LLMQ_REPORT_RESULT_COORDINATES_H_
