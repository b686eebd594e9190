#!/usr/bin/env python3
"""Tiny random-weight Hugging Face models + reference outputs for llmq's loader/runtime tests.

Run by hand (llmq never runs Python):
    /work/venv/bin/python tests/scripts/make_hf_fixtures.py [--assets assets] [--out tests/fixtures/hf]

Writes, for each of llama-gqa/, qwen2-bf16/, phi-sharded/:
    config.json (hub "legacy" layout: rope_theta / rope_scaling / partial_rotary_factor /
    torch_dtype at top level, as the real Llama-3.2 / Qwen2.5 / phi-1_5 files have),
    generation_config.json, model.safetensors (or shards + model.safetensors.index.json),
    tokenizer.json, tokenizer_config.json, reference.json.

Everything is seeded; tokenizers are trained with the `tokenizers` library on slices of the
assets text. Reference numbers come from transformers (eager attention, CPU).
"""

import argparse
import glob
import json
import math
import os
import shutil
import sys
import unicodedata

import numpy as np
import torch

import tokenizers
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          PhiConfig, PhiForCausalLM, PreTrainedTokenizerFast, Qwen2Config,
                          Qwen2ForCausalLM)

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
                r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

IGNORE_MERGES_WORDS = [" quantization", "llmq", " perplexity"]

PROMPTS = [
    "Once upon a time, there was a little girl",
    "The capital of France is",
    "def f(x):\n    return x",
    "Hi! 12345",
]


# ---------------------------------------------------------------------------------------------
# training text

def training_text(assets):
    with open(os.path.join(assets, "data/wikitext2/wiki.test.raw"), encoding="utf-8") as f:
        wiki = f.read().replace("\r\n", "\n")
    with open(os.path.join(assets, "data/tinystories/tinystories_val.txt"), encoding="utf-8") as f:
        stories = f.read()
    text = wiki[:300_000] + "\n\n" + stories[:300_000]
    code = ("def add(a, b):\n    return a + b\n\nfor i in range(10):\n\tprint(i)\n"
            "if (x && y) { return 0; }\n") * 50
    lines = [l for l in (text + "\n" + code).split("\n")]
    return lines


# ---------------------------------------------------------------------------------------------
# tokenizers

def train_bpe(lines, vocab_size, pre, normalizer=None, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[])
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def llama3_tokenizer(lines):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok = train_bpe(lines, 800, pre, ignore_merges=True)
    # Llama-3's vocab holds entries that its merges cannot build; a trained BPE has none, so
    # add three such whole-word entries (ids right after the trained vocab, before the special
    # tokens) to make ignore_merges observable: with it these words are one token each.
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    for word in IGNORE_MERGES_WORDS:
        vocab[pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
              .pre_tokenize_str(word)[0][0]] = len(vocab)
    tok = Tokenizer.from_str(json.dumps(d))
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>",
                "<|eot_id|>"]
    tok.add_special_tokens(specials)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(
            single="<|begin_of_text|> $A",
            pair="<|begin_of_text|> $A:0 <|begin_of_text|>:1 $B:1",
            special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>",
                                   eos_token="<|end_of_text|>", clean_up_tokenization_spaces=True,
                                   model_max_length=256)
    return tok, fast, dict(bos="<|begin_of_text|>", eos="<|end_of_text|>", pad=None)


def qwen2_tokenizer(lines):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok = train_bpe(lines, 700, pre, normalizer=normalizers.NFC(), ignore_merges=False)
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False,
                                              use_regex=False)
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", bos_token=None,
                                   clean_up_tokenization_spaces=False, model_max_length=256)
    return tok, fast, dict(bos=None, eos="<|endoftext|>", pad="<|endoftext|>")


def phi_tokenizer(lines):
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok = train_bpe(lines, 860, pre, ignore_merges=False)
    tok.add_special_tokens(["<|endoftext|>"])
    # phi-2 / phi-1.5: runs of 31..2 spaces, then 9..2 tabs, normalized=True, special=False
    ws = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    tok.add_tokens([tokenizers.AddedToken(s, normalized=True, special=False) for s in ws])
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False,
                                              use_regex=True)
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                   eos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                   clean_up_tokenization_spaces=True, model_max_length=2048)
    return tok, fast, dict(bos="<|endoftext|>", eos="<|endoftext|>", pad=None)


# ---------------------------------------------------------------------------------------------
# tokenization corpus

def corpus(assets, extra):
    with open(os.path.join(assets, "data/wikitext2/wiki.test.raw"), encoding="utf-8",
              newline="") as f:
        wl = f.read().split("\r\n")
    def cap(t, n=300):
        return t if len(t) <= n else t[:t.rfind(" ", 0, n)]
    wiki = [cap(wl[i]) for i in (0, 1, 2, 5, 12, 40, 77, 150, 400, 1000, 2000, 2890)
            if wl[i].strip()]
    wiki.append(wl[3] + "\r\n")  # keep one raw CRLF line end
    s = [
        # Unicode
        "café naïve résumé Ångström", "cafe\u0301 vs caf\u00e9 (NFD vs NFC)", "日本語のテキスト",
        "中文测试，标点。", "한국어 문장", "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم",
        "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷", "nbsp\u00a0here and zero\u200bwidth", "\ufeffBOM start",
        "control \x00\x01\x7f chars",
        # digits
        "12345 3.14 1,000,000", "1234567890", "x=42;y=7 0.001 -17 1e10", "2024-05-06 12:34:56",
        # whitespace
        "a  b   c    d", "    indented code", "\tTab\tseparated\t\tcols", "trailing spaces   ",
        "   leading spaces", " ", "", "  ", "\t", "mixed \t \t  tabs",
        "line1\nline2", "para1\n\npara2", "\n\n", "\n", "\r\n", "mixed \n \n  \n", "end\n\n\n",
        "spaces before newline   \nnext", "x" + " " * 40 + "y",
        # special tokens inside text
        "Hello<|end_of_text|>world", "<|begin_of_text|>start", "<|im_start|>user\nhi<|im_end|>",
        "text <|endoftext|> more", "<|endoftext|>",
        # contractions and case
        "I'm you'll DON'T", "they've we'd She'S IT'LL", "'s 're", "rock'n'roll",
        # code / punctuation / urls
        "def f(x):\n    return x**2  # comment", "if (a && b) { c++; }",
        "Hello, world!!! ... ??? --- ;;", "e-mail: test@example.com", "https://example.com/a?b=c&d=1",
        "supercalifragilisticexpialidocious internationalization",
        " Once upon a time", "ONCE UPON A TIME",
    ]
    return wiki + s + extra


def ignore_merges_probe(tok_json_str, lines_vocab):
    """Words (single pre-tokens) of the llama tokenizer that are vocab entries but that plain BPE
    merging would split: with ignore_merges=True they encode to one token."""
    d = json.loads(tok_json_str)
    d["model"]["ignore_merges"] = False
    plain = Tokenizer.from_str(json.dumps(d))
    d["model"]["ignore_merges"] = True
    ign = Tokenizer.from_str(json.dumps(d))
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    dec = decoders.ByteLevel()
    found = []
    for piece in lines_vocab:
        text = dec.decode([piece])
        try:
            if "\ufffd" in text:
                continue
        except Exception:
            continue
        a = plain.encode(text, add_special_tokens=False).ids
        b = ign.encode(text, add_special_tokens=False).ids
        if a != b and len(b) == 1:
            found.append(text)
    return found


# ---------------------------------------------------------------------------------------------
# models

def randomize(model, seed, std_linear=0.25, std_embed=0.3, std_bias=0.1, std_norm=0.2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + std_norm * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(std_bias * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name:
                p.copy_(std_embed * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std_linear * torch.randn(p.shape, generator=g))


def legacy_config(path, arch, extra):
    """Rewrite config.json as hub checkpoints made by transformers 4.x have it (what llmq's
    loader reads): rope_theta/rope_scaling/partial_rotary_factor at top level, torch_dtype."""
    with open(path) as f:
        c = json.load(f)
    v5 = dict(c)
    rp = c.pop("rope_parameters", None) or {}
    dtype = c.pop("dtype", None)
    c["rope_theta"] = rp.get("rope_theta", 10000.0)
    if rp.get("rope_type", "default") != "default":
        c["rope_scaling"] = {k: v for k, v in rp.items()
                             if k not in ("rope_theta", "partial_rotary_factor")}
    else:
        c["rope_scaling"] = None
    if "partial_rotary_factor" in rp:
        c["partial_rotary_factor"] = rp["partial_rotary_factor"]
    c["torch_dtype"] = dtype
    c.update(extra)
    c = dict(sorted(c.items()))
    with open(path, "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    return c, v5


def build(name, tok, fast, special, outdir, seed):
    V = tok.get_vocab_size(with_added_tokens=True)
    eos = tok.token_to_id(special["eos"])
    bos = tok.token_to_id(special["bos"]) if special["bos"] else None
    if name == "llama-gqa":
        cfg = LlamaConfig(
            vocab_size=V, hidden_size=64, intermediate_size=160, num_hidden_layers=3,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16,
            max_position_embeddings=256, rms_norm_eps=1e-5, hidden_act="silu",
            rope_theta=500000.0,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
            tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
            bos_token_id=bos, eos_token_id=eos)
        model = LlamaForCausalLM(cfg)
        extra = {}
        save_dtype, shard = torch.float32, None
    elif name == "qwen2-bf16":
        cfg = Qwen2Config(
            vocab_size=V, hidden_size=64, intermediate_size=192, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-6, hidden_act="silu", rope_theta=1000000.0,
            tie_word_embeddings=True, use_sliding_window=False, sliding_window=None,
            max_window_layers=2, bos_token_id=eos, eos_token_id=eos)
        model = Qwen2ForCausalLM(cfg)
        extra = {"use_sliding_window": False}
        save_dtype, shard = torch.bfloat16, None
    elif name == "phi-sharded":
        cfg = PhiConfig(
            vocab_size=V, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=None, max_position_embeddings=256,
            layer_norm_eps=1e-5, hidden_act="gelu_new", rope_theta=10000.0,
            partial_rotary_factor=0.5, qk_layernorm=False, tie_word_embeddings=False,
            resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0,
            bos_token_id=eos, eos_token_id=eos)
        model = PhiForCausalLM(cfg)
        extra = {"num_key_value_heads": None}  # as in microsoft/phi-1_5's config.json
        save_dtype, shard = torch.float32, 200_000
    else:
        raise ValueError(name)
    randomize(model, seed)
    if save_dtype != torch.float32:
        model = model.to(save_dtype)
    model.generation_config.bos_token_id = bos
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = None
    os.makedirs(outdir, exist_ok=True)
    if shard:
        model.save_pretrained(outdir, max_shard_size=shard)
    else:
        model.save_pretrained(outdir)
    legacy, v5 = legacy_config(os.path.join(outdir, "config.json"), name, extra)
    fast.save_pretrained(outdir)
    # hub-style class name: loads with transformers 4.x and 5.x, pipeline verbatim from
    # tokenizer.json (no class-specific rebuilding)
    tc_path = os.path.join(outdir, "tokenizer_config.json")
    with open(tc_path) as f:
        tc = json.load(f)
    tc.pop("backend", None)
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    with open(tc_path, "w") as f:
        json.dump(tc, f, indent=2)
        f.write("\n")
    return model, legacy, v5


# ---------------------------------------------------------------------------------------------
# references

def r6(x):
    return np.round(np.asarray(x, dtype=np.float64), 6).tolist()


@torch.no_grad()
def greedy_manual(model, ids, n):
    ids = list(ids)
    for _ in range(n):
        logits = model(torch.tensor([ids])).logits[0, -1]
        ids.append(int(torch.argmax(logits)))
    return ids


@torch.no_grad()
def references(name, outdir, tok, special, v5_config, extra_corpus, assets, mem_model):
    ref = {"model": name, "generated_by": "tests/scripts/make_hf_fixtures.py",
           "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "tokenizers": tokenizers.__version__},
           "attn_implementation": "eager", "device": "cpu"}
    # the tokenizer exactly as written
    tk = Tokenizer.from_file(os.path.join(outdir, "tokenizer.json"))
    hf_tok = AutoTokenizer.from_pretrained(outdir)
    eos = tk.token_to_id(special["eos"])
    pad = eos
    ref["vocab_size"] = tk.get_vocab_size(with_added_tokens=True)
    ref["special_ids"] = {"bos": tk.token_to_id(special["bos"]) if special["bos"] else None,
                          "eos": eos, "pad_used_here": pad}

    m32 = AutoModelForCausalLM.from_pretrained(outdir, dtype=torch.float32,
                                               attn_implementation="eager").eval()
    variants = [("float32", m32)]
    if name == "qwen2-bf16":
        m16 = AutoModelForCausalLM.from_pretrained(outdir, dtype=torch.bfloat16,
                                                   attn_implementation="eager").eval()
        variants.append(("bfloat16", m16))

    prompts = []
    for p in PROMPTS:
        ids = tk.encode(p, add_special_tokens=True).ids
        assert ids == hf_tok(p, add_special_tokens=True)["input_ids"], (name, p)
        entry = {"text": p, "ids": ids}
        for tag, m in variants:
            logits = m(torch.tensor([ids])).logits[0].float()
            key = "logits" if tag == "float32" else "logits_bf16"
            entry[key] = [r6(row) for row in logits]
            g = greedy_manual(m, ids, 20)
            new = g[len(ids):]
            gen_cfg = transformers.GenerationConfig(do_sample=False, max_new_tokens=20,
                                                    eos_token_id=eos, pad_token_id=pad)
            out = m.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                             dtype=torch.long), generation_config=gen_cfg)[0].tolist()
            gnew = out[len(ids):]
            first_eos = new.index(eos) if eos in new else None
            # generate() stops after an EOS; up to there it must agree with the manual loop
            upto = len(new) if first_eos is None else first_eos + 1
            if tag == "float32":
                assert gnew[:upto] == new[:upto], (name, tag, p, new, gnew)
            gkey = "greedy" if tag == "float32" else "greedy_bf16"
            entry[gkey] = {
                "new_ids": new, "text": tk.decode(new, skip_special_tokens=False),
                "first_eos_index": first_eos,
                "distinct_new_ids": len(set(new)),
                "generate_new_ids": gnew,
                "generate_agrees_up_to_first_eos": gnew[:upto] == new[:upto],
                "note": ("new_ids = argmax of a full recomputation each step (no KV cache), 20 "
                         "new tokens, no EOS stop; generate_new_ids = transformers generate() "
                         "(KV cache, do_sample=False, stops after EOS). In fp32 they agree (up to "
                         "the first EOS); in bf16 cached and uncached numerics differ, so greedy "
                         "paths may diverge after a near-tie"),
            }
        if len(variants) > 1:
            a = torch.tensor(entry["logits"])
            b = torch.tensor(entry["logits_bf16"])
            entry["bf16_vs_fp32_max_abs_diff"] = float((a - b).abs().max())
        prompts.append(entry)
    ref["prompts"] = prompts
    ref["prompts_note"] = ("ids = tokenizer(text, add_special_tokens=True); logits[t] = the fp32 "
                           "logits after position t (all positions), rounded to 1e-6")
    if len(variants) > 1:
        ref["bf16_note"] = ("weights are stored in bf16. 'logits' = loaded with dtype=float32 "
                            "(bf16 weights upcast exactly, all compute fp32); 'logits_bf16' = "
                            "loaded with dtype=bfloat16, CPU bf16 compute (eager attention "
                            "upcasts softmax to fp32), output upcast to fp32")

    # padded batch: prompts 3 and 1 (different lengths)
    a_ids, b_ids = prompts[3]["ids"], prompts[1]["ids"]
    assert len(a_ids) != len(b_ids)
    L = max(len(a_ids), len(b_ids))
    batch = {"prompts": [3, 1], "pad_id": pad}
    for side in ("left", "right"):
        rows, mask = [], []
        for ids in (a_ids, b_ids):
            padn = L - len(ids)
            if side == "left":
                rows.append([pad] * padn + ids)
                mask.append([0] * padn + [1] * len(ids))
            else:
                rows.append(ids + [pad] * padn)
                mask.append([1] * len(ids) + [0] * padn)
        x, am = torch.tensor(rows), torch.tensor(mask)
        pos = (am.cumsum(-1) - 1).clamp(min=0)
        out = {"input_ids": rows, "attention_mask": mask, "position_ids": pos.tolist()}
        for tag, m in variants:
            logits = m(x, attention_mask=am, position_ids=pos).logits.float()
            real = []
            maxd = 0.0
            for r, ids in enumerate((a_ids, b_ids)):
                sel = am[r].bool()
                lr = logits[r][sel]
                real.append([r6(row) for row in lr])
                single = m(torch.tensor([ids])).logits[0].float()
                maxd = max(maxd, float((lr - single).abs().max()))
            key = "logits_real_positions" if tag == "float32" else "logits_real_positions_bf16"
            out[key] = real
            out["max_abs_diff_vs_unpadded" + ("" if tag == "float32" else "_bf16")] = maxd
        batch[side] = out
    batch["note"] = ("batch of 2: prompts[3] and prompts[1] ids, padded with pad_id to the "
                     "longer length; position_ids = cumsum(attention_mask) - 1 (clamped at 0), "
                     "so each real token keeps its unpadded position (a plain HF forward without "
                     "position_ids would shift left-padded rows); logits listed for real "
                     "positions only, in order")
    ref["padded_batch"] = batch

    # tokenization corpus
    texts = corpus(assets, extra_corpus)
    toks = []
    for t in texts:
        e1 = tk.encode(t, add_special_tokens=True)
        e0 = tk.encode(t, add_special_tokens=False)
        assert hf_tok(t, add_special_tokens=True)["input_ids"] == e1.ids, (name, t)
        assert hf_tok(t, add_special_tokens=False)["input_ids"] == e0.ids, (name, t)
        d1 = tk.decode(e1.ids, skip_special_tokens=False)
        d0 = tk.decode(e0.ids, skip_special_tokens=False)
        item = {"text": t, "ids": e1.ids, "ids_no_special": e0.ids,
                "tokens_no_special": e0.tokens, "decode": d1, "decode_no_special": d0,
                "decode_skip_special": tk.decode(e1.ids, skip_special_tokens=True)}
        hd = hf_tok.decode(e1.ids, skip_special_tokens=False)
        if hd != d1:
            item["decode_transformers"] = hd
        toks.append(item)
    ref["tokenization"] = toks
    ref["tokenization_note"] = (
        "tokenizers.Tokenizer.from_file(tokenizer.json).encode(text, add_special_tokens=True/False)"
        " (identical to AutoTokenizer on this folder, checked); ids = with special tokens, "
        "ids_no_special = without; decode* = Tokenizer.decode(ids, skip_special_tokens=False/True)"
        " (no clean_up_tokenization_spaces); decode_transformers (only where it differs from "
        "decode) = AutoTokenizer.decode(ids), which applies clean_up_tokenization_spaces when "
        "tokenizer_config.json sets it")
    # checks: the legacy config.json reloads to the very same model; and how much the logits
    # would move if a loader ignored a feature (shows the fixture is sensitive to it)
    checks = {}
    x = torch.tensor([prompts[0]["ids"]])
    # fp32 twin of the saved object, built from its in-memory config (not from config.json);
    # (rebuilt rather than upcast: .to(bfloat16) also rounds the RoPE inv_freq buffer)
    mem_cfg = mem_model.config
    mem_cfg._attn_implementation = "eager"
    twin = type(m32)(mem_cfg).eval()
    twin.load_state_dict({k: v.float() for k, v in mem_model.state_dict().items()})
    checks["reload_vs_in_memory_max_abs_diff"] = float(
        (m32(x).logits - twin(x).logits).abs().max())
    assert checks["reload_vs_in_memory_max_abs_diff"] == 0.0, checks
    base = m32(x).logits
    if name == "llama-gqa":
        cfg = json.load(open(os.path.join(outdir, "config.json")))
        cfg["rope_scaling"] = None
        alt = type(m32)(type(m32.config).from_dict(cfg)).eval()
        alt.load_state_dict(m32.state_dict())
        checks["max_abs_diff_if_rope_scaling_ignored"] = float((alt(x).logits - base).abs().max())
        cfg["rope_theta"] = 10000.0
        alt = type(m32)(type(m32.config).from_dict(cfg)).eval()
        alt.load_state_dict(m32.state_dict())
        checks["max_abs_diff_if_rope_theta_10000_and_no_scaling"] = float(
            (alt(x).logits - base).abs().max())
    if name == "phi-sharded":
        cfg = json.load(open(os.path.join(outdir, "config.json")))
        cfg["partial_rotary_factor"] = 1.0
        alt = type(m32)(type(m32.config).from_dict(cfg)).eval()
        alt.load_state_dict(m32.state_dict())
        checks["max_abs_diff_if_partial_rotary_factor_1"] = float(
            (alt(x).logits - base).abs().max())
    ref["checks"] = checks
    ref["checks_note"] = ("logits of prompts[0]; reload = from_pretrained(this folder) vs the "
                          "model object that was saved (must be 0); the other entries are what a "
                          "loader ignoring that config field would be off by")
    ref["config_as_transformers5_writes_it"] = v5_config
    ref["config_note"] = ("config.json in this folder uses the hub/transformers-4 layout "
                          "(rope_theta, rope_scaling, partial_rotary_factor, torch_dtype); "
                          "transformers >= 5 writes the same model as in "
                          "config_as_transformers5_writes_it (rope_parameters, dtype)")
    return ref


def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.path.join(root, "assets"))
    ap.add_argument("--out", default=os.path.join(root, "tests/fixtures/hf"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    lines = training_text(args.assets)
    specs = [("llama-gqa", llama3_tokenizer, 1001), ("qwen2-bf16", qwen2_tokenizer, 2002),
             ("phi-sharded", phi_tokenizer, 3003)]
    for name, make_tok, seed in specs:
        outdir = os.path.join(args.out, name)
        if os.path.isdir(outdir):
            shutil.rmtree(outdir)
        tok, fast, special = make_tok(lines)
        extra = []
        if name == "llama-gqa":
            probe = ignore_merges_probe(tok.to_str(), list(tok.get_vocab().keys()))
            assert sorted(probe) == sorted(IGNORE_MERGES_WORDS), probe
            extra = ["llmq quantization perplexity", "llmq's perplexity, quantization."] + IGNORE_MERGES_WORDS
            print("ignore_merges-sensitive words:", probe)
        model, legacy, v5 = build(name, tok, fast, special, outdir, seed)
        ref = references(name, outdir, tok, special, v5, extra, args.assets, model.eval())
        if name == "llama-gqa":
            ref["ignore_merges_note"] = (
                "tokenizer.json has model.ignore_merges = true (as Llama-3): a pre-token that is "
                "itself a vocab entry is emitted as that id without applying merges. The trained "
                "vocab had no entry where this matters, so the script added ignore_merges_words "
                "to the vocab (ids 800-802, no merges build them; Llama-3 has such entries too); "
                "the last 5 corpus strings use them")
            ref["ignore_merges_words"] = IGNORE_MERGES_WORDS
            d = json.loads(tok.to_str())
            d["model"]["ignore_merges"] = False
            plain = Tokenizer.from_str(json.dumps(d))
            ref["ignore_merges_false_would_give"] = [
                {"text": t, "ids_no_special": plain.encode(t, add_special_tokens=False).ids}
                for t in extra]
        dump(os.path.join(outdir, "reference.json"), ref)
        for p in ref["prompts"]:
            print(name, repr(p["text"]), "->", p["greedy"]["new_ids"], repr(p["greedy"]["text"]),
                  "distinct", p["greedy"]["distinct_new_ids"])
        sizes = {os.path.basename(f): os.path.getsize(f) for f in sorted(glob.glob(outdir + "/*"))}
        print(name, "vocab", ref["vocab_size"], sizes, "total", sum(sizes.values()))


if __name__ == "__main__":
    main()
