#include "grid/overrides_yaml.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grid/overrides.h"
#include "grid/schema.h"
#include "grid/values.h"

namespace llmq {
namespace {

// A message of grid/overrides.h without its own "overrides: " (the context has it).
std::string Bare(const absl::Status& status) {
  absl::string_view m = status.message();
  absl::ConsumePrefix(&m, "overrides: ");
  return std::string(m);
}

// One {pattern, ...} map.
bool ReadOverride(const YAML::Node& node, const std::string& context,
                  absl::string_view entry_method, GridDiagnostics* diagnostics,
                  LayerOverride* out) {
  if (!node.IsMap()) {
    diagnostics->Error(LocationOf(node),
                       absl::StrCat(context, ": expected a map like {pattern: \"layers.0.*\", "
                                             "bits: 4} or {pattern: \"*.down_proj\", keep: true}, got ",
                                    DescribeNode(node)));
    return false;
  }
  bool ok = true;
  const GridEntrySchema* rtn = FindGridMethod("rtn");
  for (const YamlField& f : ReadFields(node, diagnostics)) {
    std::string text;
    if (f.key == "pattern" || f.key == "method" || f.key == "keep" || f.key == "bits" ||
        f.key == "group_size") {
      if (!ReadScalar(f.value, f.value_where, absl::StrCat(context, ": ", f.key), "one value",
                      diagnostics, &text)) {
        ok = false;
        continue;
      }
    }
    if (f.key == "pattern") {
      out->pattern = text;
    } else if (f.key == "method") {
      out->method = text;
      const GridEntrySchema* method = FindGridMethod(text);
      if (method == nullptr || text == "none") {
        LayerOverride probe{"x", false, text, {}};
        diagnostics->Error(f.value_where, absl::StrCat(context, ": ",
                                                       Bare(ValidateLayerOverride(&probe)),
                                                       DidYouMean(text, GridMethodNames())));
        ok = false;
      } else if (method->calibrates && !IsCalibratingMethodName(entry_method)) {
        diagnostics->Error(f.value_where,
                           absl::StrCat(context, ": method ", text, " calibrates, but the entry's ",
                                        entry_method, " draws no calibration windows; make ", text,
                                        " the entry's method and override the other layers"));
        ok = false;
      }
    } else if (f.key == "keep") {
      absl::StatusOr<bool> keep = ParseGridBool(text);
      if (!keep.ok()) {
        diagnostics->Error(f.value_where, absl::StrCat(context, ": keep: expected true or false, got \"",
                                                       text, "\""));
        ok = false;
      } else {
        out->keep = *keep;
      }
    } else if (f.key == "bits" || f.key == "group_size") {
      absl::StatusOr<std::string> canonical = CanonicalParamValue(*rtn->FindParam(f.key), text, "");
      if (!canonical.ok()) {
        diagnostics->Error(f.value_where, absl::StrCat(context, ": ", canonical.status().message()));
        ok = false;
      } else {
        out->params[f.key] = *canonical;
      }
    } else {
      ReportUnknownKey(f, context, LayerOverrideFields(), "", diagnostics);
      ok = false;
    }
  }
  if (!ok) return false;
  absl::Status valid = ValidateLayerOverride(out);
  if (!valid.ok()) {
    diagnostics->Error(LocationOf(node), absl::StrCat(context, ": ", Bare(valid)));
    return false;
  }
  return true;
}

// One variant: a list of override maps.
bool ReadVariant(const YAML::Node& list, const std::string& context, absl::string_view entry_method,
                 GridDiagnostics* diagnostics, std::vector<std::string>* variants) {
  std::vector<LayerOverride> overrides;
  bool ok = true;
  for (const YAML::Node& node : list) {
    LayerOverride o;
    if (ReadOverride(node, context, entry_method, diagnostics, &o)) {
      overrides.push_back(std::move(o));
    } else {
      ok = false;
    }
  }
  if (ok) variants->push_back(FormatLayerOverrides(overrides));
  return ok;
}

}  // namespace

bool IsCalibratingMethodName(absl::string_view method) {
  const GridEntrySchema* schema = FindGridMethod(method);
  return schema != nullptr && schema->calibrates;
}

bool ReadOverrideVariants(const YamlField& field, absl::string_view context,
                          absl::string_view entry_method, GridDiagnostics* diagnostics,
                          std::vector<std::string>* variants) {
  const std::string where = absl::StrCat(context, ": overrides");
  const YAML::Node& value = field.value;
  if (value.IsScalar()) {
    absl::StatusOr<std::vector<LayerOverride>> parsed = ParseLayerOverrides(value.Scalar());
    if (!parsed.ok()) {
      diagnostics->Error(field.value_where, absl::StrCat(context, ": ", parsed.status().message()));
      return false;
    }
    variants->push_back(FormatLayerOverrides(*parsed));
    return true;
  }
  if (!value.IsSequence() || value.size() == 0) {
    diagnostics->Error(field.value_where,
                       absl::StrCat(where, ": expected a list of {pattern, bits, group_size, "
                                           "method} or {pattern, keep: true}, got ",
                                    DescribeNode(value)));
    return false;
  }
  if (!value[0].IsSequence()) return ReadVariant(value, where, entry_method, diagnostics, variants);
  bool ok = true;
  for (const YAML::Node& variant : value) {
    if (!variant.IsSequence()) {
      diagnostics->Error(LocationOf(variant),
                         absl::StrCat(where, ": a list of lists is an axis: every item must be a "
                                             "list of overrides, got ",
                                      DescribeNode(variant)));
      ok = false;
      continue;
    }
    ok = ReadVariant(variant, where, entry_method, diagnostics, variants) && ok;
  }
  return ok;
}

}  // namespace llmq
