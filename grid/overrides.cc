#include "grid/overrides.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/glob.h"
#include "grid/schema.h"
#include "grid/values.h"

namespace llmq {
namespace {

absl::Status Invalid(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("overrides: ", message));
}

}  // namespace

const std::vector<std::string>& LayerOverrideFields() {
  static const auto* fields =
      new std::vector<std::string>{"pattern", "bits", "group_size", "method", "keep"};
  return *fields;
}

absl::Status ValidateLayerOverride(LayerOverride* o) {
  if (o->pattern.empty()) return Invalid("pattern: required, e.g. \"layers.0.*\"");
  for (char c : o->pattern) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '*' && c != '?') {
      return Invalid(absl::StrCat("pattern: expected a layer-name pattern (letters, digits, "
                                  "_ . - * ?) like \"layers.0.*\", got \"",
                                  o->pattern, "\""));
    }
  }
  if (o->keep && (!o->method.empty() || !o->params.empty())) {
    return Invalid(absl::StrCat("pattern \"", o->pattern,
                                "\": keep leaves the layers in float; it takes no bits, "
                                "group_size or method"));
  }
  if (!o->keep && o->method.empty() && o->params.empty()) {
    return Invalid(absl::StrCat("pattern \"", o->pattern,
                                "\": expected keep: true, or bits, group_size or method"));
  }
  if (!o->method.empty()) {
    const GridEntrySchema* method = FindGridMethod(o->method);
    if (method == nullptr || o->method == "none") {
      std::vector<std::string> known;
      for (const std::string& name : GridMethodNames()) {
        if (name != "none") known.push_back(name);
      }
      return Invalid(absl::StrCat("method: expected one of ", absl::StrJoin(known, ", "),
                                  " (keep: true leaves layers in float), got \"", o->method,
                                  "\""));
    }
  }
  // bits and group_size as the rtn schema states them (every method with bits shares them).
  const GridEntrySchema* rtn = FindGridMethod("rtn");
  for (auto& [name, value] : o->params) {
    const GridParamSchema* param = rtn == nullptr ? nullptr : rtn->FindParam(name);
    if (param == nullptr || (name != "bits" && name != "group_size")) {
      return Invalid(absl::StrCat("unknown field ", name));
    }
    absl::StatusOr<std::string> canonical = CanonicalParamValue(*param, value, "");
    if (!canonical.ok()) return Invalid(canonical.status().message());
    value = *canonical;
  }
  return absl::OkStatus();
}

std::string FormatLayerOverrides(const std::vector<LayerOverride>& overrides) {
  std::vector<std::string> entries;
  for (const LayerOverride& o : overrides) {
    if (o.keep) {
      entries.push_back(absl::StrCat(o.pattern, ":keep"));
      continue;
    }
    std::map<std::string, std::string> fields = o.params;
    if (!o.method.empty()) fields["method"] = o.method;
    entries.push_back(absl::StrCat(o.pattern, ":", absl::StrJoin(fields, ",", absl::PairFormatter("="))));
  }
  return absl::StrJoin(entries, ";");
}

absl::StatusOr<std::vector<LayerOverride>> ParseLayerOverrides(absl::string_view text) {
  std::vector<LayerOverride> overrides;
  if (absl::StripAsciiWhitespace(text).empty()) return overrides;
  for (absl::string_view entry : absl::StrSplit(text, ';')) {
    std::vector<absl::string_view> parts = absl::StrSplit(entry, absl::MaxSplits(':', 1));
    if (parts.size() != 2) {
      return Invalid(absl::StrCat("expected pattern:keep or pattern:bits=..,group_size=..,"
                                  "method=.., got \"", entry, "\""));
    }
    LayerOverride o;
    o.pattern = std::string(absl::StripAsciiWhitespace(parts[0]));
    for (absl::string_view field : absl::StrSplit(parts[1], ',')) {
      field = absl::StripAsciiWhitespace(field);
      if (field == "keep" || field == "keep=true") {
        o.keep = true;
        continue;
      }
      std::vector<absl::string_view> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
      if (kv.size() != 2) return Invalid(absl::StrCat("expected name=value, got \"", field, "\""));
      const std::string name(absl::StripAsciiWhitespace(kv[0]));
      const std::string value(absl::StripAsciiWhitespace(kv[1]));
      if (name == "method") {
        o.method = value;
      } else if (!o.params.emplace(name, value).second) {
        return Invalid(absl::StrCat(name, " given twice in \"", entry, "\""));
      }
    }
    if (absl::Status s = ValidateLayerOverride(&o); !s.ok()) return s;
    overrides.push_back(std::move(o));
  }
  return overrides;
}

bool LayerPatternMatches(absl::string_view pattern, absl::string_view layer) {
  for (;;) {
    if (GlobMatch(pattern, layer)) return true;
    const size_t dot = layer.find('.');
    if (dot == absl::string_view::npos) return false;
    layer.remove_prefix(dot + 1);
  }
}

}  // namespace llmq
