#!/usr/bin/env python3
"""Records reference tokenizations from Hugging Face's official `tokenizers` library into
tests/fixtures/tokenizers/hf_references.json, which model/hf_reference_test.cc checks
llmq's C++ tokenizers against. The C++ tests never run Python.

Besides the two bundled tokenizer.json files (phi-2, stories260K-hf), it records variants
made by patching them, to cover what the bundled files do not: a Llama-3 style pre-tokenizer
(Split with Llama-3's regex, then ByteLevel without regex, ignore_merges, merges as pairs,
a BOS template, added tokens with lstrip/rstrip/single_word), a Qwen2 style one (NFC,
Split with Qwen2's regex) and the older Llama-2 form (Prepend + Replace normalizers). The
patches are stored in the fixture and applied the same way by the C++ test.

Usage (from the repository root):
  /work/venv/bin/python tests/scripts/record_tokenizer_references.py
"""
import copy
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

OUT = "tests/fixtures/tokenizers/hf_references.json"
PHI2 = "assets/models/phi-2-tokenizer"
STORIES = "assets/models/stories260K-hf"
WIKITEXT = "assets/data/wikitext2/wiki.test.raw"

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def added(id_, content, special=True, lstrip=False, rstrip=False, single_word=False,
          normalized=None):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
            "special": special}


def byte_level(use_regex):
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
            "use_regex": use_regex}


# Each variant: the base folder, top-level keys replaced in tokenizer.json, keys replaced in
# its "model", tokens appended to "added_tokens", whether merges become [a, b] pairs, and the
# tokenizer_config.json to use (null: the base folder's).
VARIANTS = {
    "phi2": {"base": PHI2},
    "phi2_llama3_split": {
        "base": PHI2,
        "patch": {
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated",
                 "invert": False},
                byte_level(False)]},
            "post_processor": {"type": "Sequence", "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                 "use_regex": True},
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                          {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {"<|begin_of_text|>": {
                     "id": "<|begin_of_text|>", "ids": [50295],
                     "tokens": ["<|begin_of_text|>"]}}}]},
        },
        "model_patch": {"ignore_merges": True},
        "append_added_tokens": [
            added(50295, "<|begin_of_text|>"),
            added(50296, "<mask>", lstrip=True),
            added(50297, "<R>", rstrip=True),
            added(50298, "lol", special=False, single_word=True),
        ],
        "merges_as_pairs": True,
        "config": {"bos_token": "<|begin_of_text|>", "eos_token": "<|endoftext|>"},
    },
    "phi2_qwen2_split": {
        "base": PHI2,
        "patch": {
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated",
                 "invert": False},
                byte_level(False)]},
        },
        "append_added_tokens": [added(50295, "<|im_start|>"), added(50296, "<|im_end|>")],
        "config": {"bos_token": None, "eos_token": "<|im_end|>"},
    },
    "phi2_misc_components": {
        "base": PHI2,
        "patch": {
            # Only <|endoftext|>: HF panics ("AddedVocabulary bad split") when a normalizer
            # strips phi-2's whitespace tokens.
            "added_tokens": [added(50256, "<|endoftext|>")],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Replace", "pattern": {"Regex": r"\s{2,}"}, "content": " "}]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"String": "-"}, "behavior": "Removed",
                 "invert": False},
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                 "use_regex": True}]},
        },
    },
    "stories": {"base": STORIES},
    "stories_metaspace_split": {
        "base": STORIES,
        "patch": {
            # The older serialization: add_prefix_space instead of prepend_scheme, and the
            # default split (true).
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                              "add_prefix_space": True},
            "decoder": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True},
        },
    },
    "stories_legacy_normalizer": {
        "base": STORIES,
        "patch": {
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
        },
    },
}

HANDWRITTEN = [
    "", "a", " ", "   ", "\t", "\n", "Hello world", " Hello world", "  Hello  world  ",
    "I'm you'll DON'T they've WE'RE it's I'D she'S", "\u017f's long s, K kelvin",
    "12345 3.14 1,000 1000000 -42 \u0661\u0662\u0663 \u00bd \u2460",
    "tabs\there\t\tand\n\nnewlines\r\n\r\nCRLF\r\n", "trailing newline\n", "\n\n\nleading",
    "spaces before newline   \n  after", "a  \n\n  b", "x \t y", "word \u00a0nbsp",
    "ideographic\u3000space and thin\u2009space", "vertical\u000btab\u000cformfeed\u0085nel",
    "caf\u00e9 vs cafe\u0301", "\u00c5 vs A\u030a vs \u212b", "\u1e31\u1e77\u1e53n",
    "A\u0308\u0301 e\u0327\u0301 q\u0307\u0323", "\u2126 ohm \ufb01 ligature \uf900 compat",
    "\ud55c\uad6d\uc5b4 \u1112\u1161\u11ab\u1100\u116e\u11a8",
    "\u751f\u6d3b\u7684\u771f\u8c1b\u662f", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\U0001f44b\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f917!",
    "<|endoftext|>inside<|endoftext|>text", "<|begin_of_text|>x <|begin_of_text|> y",
    "<|im_start|>user\nhi there<|im_end|>\n", "a<mask> b   <mask>c", "<R>   after <R>x",
    "lol lolz xlol lol. (lol)", "x" * 300, "--- ... !!! ??? ;;", "x = [1, 2]; y = {'a': 3}",
    "def f(n):\n    if n <= 1:\n        return n\n\treturn f(n-1)\n",
    "$100.00 & 50% off!! e-mail: someone@example.com https://example.com/a?b=c#d",
    "Once upon a time, there was a little girl named Lily.",
    "\u2581already has a metaspace", "\u0120G with dot and \u010a",
]


def wikitext_lines():
    with open(WIKITEXT, encoding="utf-8", newline="") as f:
        lines = [line for line in f.read().split("\r\n") if line.strip()]
    picked = lines[::97][:30]
    chunk = "\n".join(lines[100:110])
    return picked + [chunk]


def build(variant):
    with open(os.path.join(variant["base"], "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    tok.update(copy.deepcopy(variant.get("patch", {})))
    tok["model"].update(variant.get("model_patch", {}))
    tok["added_tokens"] = tok.get("added_tokens") or []
    tok["added_tokens"] += copy.deepcopy(variant.get("append_added_tokens", []))
    if variant.get("merges_as_pairs"):
        tok["model"]["merges"] = [m.split(" ") if isinstance(m, str) else m
                                  for m in tok["model"]["merges"]]
    return Tokenizer.from_str(json.dumps(tok))


def main():
    texts = HANDWRITTEN + wikitext_lines()
    variants = {}
    for name, variant in VARIANTS.items():
        tok = build(variant)
        recorded = dict(variant)
        # What add_special_tokens=True adds around every text (checked below).
        prefix = tok.encode("", add_special_tokens=True).ids
        recorded["special_prefix"] = prefix
        recorded["ids"], recorded["ids_special"], recorded["decoded"] = [], {}, {}
        for i, text in enumerate(texts):
            ids = tok.encode(text, add_special_tokens=False).ids
            recorded["ids"].append(ids)
            special = tok.encode(text, add_special_tokens=True).ids
            if special != prefix + ids:
                recorded["ids_special"][str(i)] = special
            decoded = tok.decode(ids, skip_special_tokens=True)
            if decoded != text:
                recorded["decoded"][str(i)] = decoded
        variants[name] = recorded
        print(f"{name}: {len(texts)} texts, {sum(map(len, recorded['ids']))} tokens",
              file=sys.stderr)
    description = (
        "Reference tokenizations by Hugging Face tokenizers %s (Python, Rust core), written "
        "by tests/scripts/record_tokenizer_references.py. For text i of `texts`, per variant: "
        "ids[i] = encode(text, add_special_tokens=False).ids; encode(text, "
        "add_special_tokens=True).ids = special_prefix + ids[i], except where ids_special[i] "
        "gives them; decoded[i] (only where "
        "different from the text) = decode(ids[i], skip_special_tokens=True). Variants "
        "patch the bundled tokenizer.json files as their fields say." % tokenizers.__version__)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        # One text or id list per line keeps diffs readable.
        f.write("{\n \"description\": %s,\n \"texts\": [\n" % json.dumps(description))
        f.write(",\n".join("  " + json.dumps(t) for t in texts))
        f.write("\n ],\n \"variants\": {\n")
        for n, (name, v) in enumerate(variants.items()):
            f.write("  %s: {\n" % json.dumps(name))
            fields = [k for k in v if k != "ids"]
            for key in fields:
                f.write("   %s: %s,\n" % (json.dumps(key), json.dumps(v[key], separators=(",", ":"))))
            f.write('   "ids": [\n')
            f.write(",\n".join("    " + json.dumps(ids, separators=(",", ":")) for ids in v["ids"]))
            f.write("\n   ]\n  }%s\n" % ("," if n + 1 < len(variants) else ""))
        f.write(" }\n}\n")


if __name__ == "__main__":
    main()
