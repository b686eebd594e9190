#!/usr/bin/env python3
"""Reference numbers for stories260K from an independent plain-PyTorch llama2.c implementation.

Run by hand (llmq never runs Python):
    /work/venv/bin/python tests/scripts/reference_stories260k.py [--assets assets] \
        [--out tests/fixtures/reference/stories260k.json] [--no-hf]

Writes tests/fixtures/reference/stories260k.json. The model, tokenizer and quantizer code is in
llama2c_ref.py (no transformers, no llmq); transformers is used only for cross-checks, whose
results are recorded in the JSON under "cross_checks".
"""

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c_ref import (HF_NAMES, LINEAR_NAMES, Llama2cModel, Llama2cTokenizer,  # noqa: E402
                         concat_encode, dump_json, hf_permute, read_checkpoint_v0, rtn,
                         sha256_tensor, tinystories_paragraphs, window_nll, quant_params)

WINDOW = 512


def sha256_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def sha256_i32(ids):
    return hashlib.sha256(np.asarray(ids, dtype="<i4").tobytes()).hexdigest()


def r6(t):
    return [round(float(v), 6) for v in t]


def hf_layout(name, w, cfg):
    if name == "wq":
        return hf_permute(w, cfg["n_heads"])
    if name == "wk":
        return hf_permute(w, cfg["n_kv_heads"])
    return w


def quantize_model(model, cfg, bits, group, sym):
    new, per_tensor = {}, {}
    tot_sq, tot_n = 0.0, 0
    stats = dict(groups=0, sym_nonneg_groups=0, all_zero_groups=0, half_ties_in_w_over_scale=0,
                 half_ties_in_zero=0, half_tie_values={})
    for name in LINEAR_NAMES:
        layers = []
        for l in range(cfg["n_layers"]):
            w = model.w[name][l]
            deq, codes, scales, zeros, spans = rtn(w, bits, group, sym)
            layers.append(deq)
            # statistics (tie counts document whether half-to-even rounding ever mattered)
            for gi, (s, e) in enumerate(spans):
                blk = w[:, s:e]
                stats["groups"] += blk.shape[0]
                mn, mx = blk.min(1).values, blk.max(1).values
                stats["all_zero_groups"] += int(((mn == 0) & (mx == 0)).sum())
                if sym:
                    stats["sym_nonneg_groups"] += int(((mn >= 0) & (mx > 0)).sum())
                sc = scales[:, gi:gi + 1]
                r = blk / sc
                ties = r[(r - torch.floor(r)) == 0.5]
                stats["half_ties_in_w_over_scale"] += int(ties.numel())
                for v in ties.tolist():
                    key = repr(v)
                    stats["half_tie_values"][key] = stats["half_tie_values"].get(key, 0) + 1
                if not sym:
                    xmin = torch.minimum(mn, torch.zeros_like(mn))
                    rz = -xmin / sc[:, 0]
                    stats["half_ties_in_zero"] += int(((rz - torch.floor(rz)) == 0.5).sum())
            hname = f"model.layers.{l}.{HF_NAMES[name]}.weight"
            per_tensor[hname] = dict(
                codes_sha256=sha256_tensor(hf_layout(name, codes, cfg), "uint8"),
                scale_sum=float(scales.double().sum()),
                zero_sum=float(zeros.double().sum()),
                sq_err_sum=float(((deq - w).double() ** 2).sum()),
                n_groups_per_row=len(spans),
            )
            tot_sq += float(((deq - w).double() ** 2).sum())
            tot_n += w.numel()
        new[name] = torch.stack(layers)
    return model.with_linears(new), per_tensor, stats, tot_sq / tot_n


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap.add_argument("--assets", default=os.path.join(root, "assets"))
    ap.add_argument("--out", default=os.path.join(root, "tests/fixtures/reference/stories260k.json"))
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers cross-checks")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    A = args.assets
    bin_path = os.path.join(A, "models/stories260K/stories260K.bin")
    tok_path = os.path.join(A, "models/stories260K/tok512.bin")
    ts_path = os.path.join(A, "data/tinystories/tinystories_val.txt")
    c4_path = os.path.join(A, "data/calib/c4_sample.jsonl")
    hf_dir = os.path.join(A, "models/stories260K-hf")

    cfg, w = read_checkpoint_v0(bin_path)
    tok = Llama2cTokenizer(tok_path)
    model = Llama2cModel(cfg, w)
    out = {
        "description": (
            "Reference numbers for llama2.c stories260K computed by an independent plain-PyTorch "
            "fp32 implementation of the llama2.c v0 checkpoint and tokenizer "
            "(tests/scripts/llama2c_ref.py; no transformers, no llmq). transformers results are "
            "cross-checks only (see cross_checks)."),
        "generated_by": "tests/scripts/reference_stories260k.py",
        "environment": {"torch": torch.__version__, "python": platform.python_version(),
                        "numpy": np.__version__, "threads": args.threads},
        "inputs_sha256": {
            "assets/models/stories260K/stories260K.bin": sha256_file(bin_path),
            "assets/models/stories260K/tok512.bin": sha256_file(tok_path),
            "assets/data/tinystories/tinystories_val.txt": sha256_file(ts_path),
            "assets/data/calib/c4_sample.jsonl": sha256_file(c4_path),
        },
        "config": cfg,
        "conventions": {
            "forward": ("fp32 everywhere; RMSNorm x*rsqrt(mean(x^2)+1e-5)*w; attention "
                        "softmax((q k^T)/sqrt(head_dim) + causal mask) in fp32; SwiGLU "
                        "w2(silu(w1 x) * w3 x); logits = rmsnorm(x) @ tok_emb^T (shared)"),
            "rope": ("llama2.c interleaved pairs (x[2j], x[2j+1]) rotated by pos*10000^(-2j/8); "
                     "cos/sin computed in float64 from the exact angle, then rounded to fp32 "
                     "(HF computes the angle in fp32; the difference is up to ~9e-5 in logits at "
                     "position 511, see cross_checks). Equivalent to HF rotate_half on the "
                     "permuted q/k rows of stories260K-hf."),
            "gqa": "query head h uses kv head h // (n_heads / n_kv_heads) = h // 2",
            "tokenizer": ("llama2.c encode(): BOS (id 1) first; if the text is non-empty a "
                          "dummy-prefix ' ' token (id of ' '); each UTF-8 code point looked up "
                          "whole, else byte fallback id = byte + 3; then repeatedly merge the "
                          "adjacent pair whose concatenation is a vocab piece with the highest "
                          "score, leftmost on ties; no EOS"),
        },
    }

    # --- tokenizer examples ----------------------------------------------------------------
    examples = ["", "Hello world", "Once upon a time, there was a little girl named Lily.",
                "  two  spaces", " leading space", "trailing space ", "a\n\nb", " ",
                "tab\there\nnewline", "café naïve", "日本 😀", "12345 3.14",
                "I'm you'll DON'T", "<s> and </s> are text here"]
    out["tokenizer_examples"] = [{"text": t, "ids_with_bos": tok.encode(t)} for t in examples]
    # other implementations, recorded where they differ from llama2.c's encode()
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(A, "models/stories260K/tok512.model"))
    ht = None
    if not args.no_hf:
        from transformers import AutoTokenizer
        ht = AutoTokenizer.from_pretrained(hf_dir)
    for e in out["tokenizer_examples"]:
        s_ids = [tok.bos] + sp.encode(e["text"])
        if s_ids != e["ids_with_bos"]:
            e["ids_sentencepiece_differs"] = s_ids
        if ht is not None:
            h_ids = ht(e["text"])["input_ids"]
            if h_ids != e["ids_with_bos"]:
                e["ids_transformers_differs"] = h_ids
    out["tokenizer_examples_note"] = (
        "ids_with_bos = llama2.c encode(). Leading spaces differ between implementations: "
        "llama2.c always prepends the dummy ' ' token (non-empty text); the HF tokenizer.json of "
        "stories260K-hf (Metaspace, prepend_scheme first) prepends '▁' only if the text does not "
        "already start with a space; sentencepiece (tok512.model, sentencepiece " +
        spm.__version__ + ") also removes extra whitespace (leading/trailing, and runs collapse "
        "to one). The HF tokenizer also matches '<s>' / '</s>' in the text as BOS / EOS "
        "(added tokens); llama2.c and sentencepiece treat them as text. *_differs fields list "
        "the other implementations' ids where they differ. On the tinystories paragraphs and "
        "the 64 calibration docs llama2.c and transformers agree everywhere; sentencepiece "
        "differs on a few (double spaces), see cross_checks.sentencepiece.")

    # --- greedy ------------------------------------------------------------------------------
    g = model.greedy([tok.bos], 80)
    out["greedy_from_bos"] = {
        "ids_including_bos": g,
        "new_ids": g[1:],
        "text": tok.decode(g),
        "note": "argmax each step from [BOS], 80 new tokens, no EOS stop (EOS id 2 never "
                "appears in these 80)." if 2 not in g[1:] else "EOS appears",
    }

    # --- tinystories-paragraphs ---------------------------------------------------------------
    paras = tinystories_paragraphs(ts_path)
    toks = concat_encode(tok, paras)
    fast = model.with_sdpa(True)
    t0 = time.time()
    res = window_nll(fast, toks, WINDOW)
    t_eval = time.time() - t0
    # the fused attention used for all perplexities vs the written-out one, on 64 windows
    sub = toks[: 64 * WINDOW]
    r_exp, r_sdpa = window_nll(model, sub, WINDOW), window_nll(fast, sub, WINDOW)
    print("fp32 ppl", res, f"{t_eval:.1f}s", flush=True)
    n_win = len(toks) // WINDOW
    win0 = torch.tensor(toks[:WINDOW])[None]
    with torch.no_grad():
        lg0 = model.forward(win0)[0]
    positions = [0, 1, 2, 100, 255, 511]
    out["tinystories_paragraphs"] = {
        "protocol": (
            "text = tinystories_val.txt; paragraphs = text.split('\\n\\n'), each .strip(), empty "
            "ones dropped (the two lines holding a single space are not breaks; splitting on "
            "whitespace-only lines instead gives 4302 paragraphs / 384954 tokens); each "
            "paragraph encoded with BOS; concatenated; non-overlapping windows of 512 tokens, "
            "last partial window dropped; in each window tokens 2..512 are predicted from the "
            "previous ones (511 per window, the window's first token is not predicted); "
            "ppl = exp(nll_sum / predicted_tokens); per-token NLL from fp32 log_softmax of fp32 "
            "logits, summed in float64. All perplexities here use the fp32 forward with torch "
            "scaled_dot_product_attention(is_causal=True) (see attention_check)"),
        "paragraphs": len(paras),
        "total_tokens": len(toks),
        "tokens_sha256_int32le": sha256_i32(toks),
        "first_32_tokens": toks[:32],
        "windows": res["windows"],
        "predicted_tokens": res["predicted_tokens"],
        "dropped_tail_tokens": len(toks) - n_win * WINDOW,
        "nll_sum": res["nll_sum"],
        "mean_nll": res["mean_nll"],
        "ppl": res["ppl"],
        "window0_logits": {str(p): r6(lg0[p]) for p in positions},
        "window0_logits_note": ("full 512 logits at these positions of window 0, rounded to "
                                "1e-6 (written-out attention)"),
        "attention_check": {
            "windows": 64,
            "nll_sum_written_out_attention": r_exp["nll_sum"],
            "nll_sum_sdpa": r_sdpa["nll_sum"],
            "rel_diff": abs(r_exp["nll_sum"] / r_sdpa["nll_sum"] - 1),
        },
    }

    # fp64 forward: shows how much of the ppl is fp32 noise
    m64 = Llama2cModel(cfg, w, sdpa=True)
    m64.w = {k: v.double() for k, v in m64.w.items()}
    m64.cos, m64.sin = m64.cos.double(), m64.sin.double()
    res64 = window_nll(m64, toks, WINDOW)
    out["tinystories_paragraphs"]["ppl_fp64_forward"] = res64["ppl"]
    print("fp64 ppl", res64["ppl"], flush=True)

    # --- calibration set -----------------------------------------------------------------------
    with open(c4_path, encoding="utf-8") as f:
        docs = [json.loads(next(f))["text"] for _ in range(64)]
    ctoks = concat_encode(tok, docs)
    calib = ctoks[: 32 * WINDOW]
    out["calibration"] = {
        "protocol": ("the first 64 lines (documents) of c4_sample.jsonl, field 'text' used "
                     "as-is (none has leading/trailing whitespace), each encoded with BOS, "
                     "concatenated; the first 32 windows of 512 tokens (window i = tokens "
                     "[512*i, 512*(i+1)))"),
        "documents": 64,
        "total_tokens_64_docs": len(ctoks),
        "windows": 32,
        "window_tokens": WINDOW,
        "calib_tokens_sha256_int32le": sha256_i32(calib),
        "first_16_tokens": calib[:16],
        "last_16_tokens": calib[-16:],
        "per_doc_token_counts": [len(tok.encode(d)) for d in docs],
    }

    # --- RTN -------------------------------------------------------------------------------------
    rtn_out = {
        "description": (
            "round-to-nearest applied to every linear of the 5 blocks (q,k,v,o,gate,up,down; "
            "embedding/classifier and norms untouched), dequantized to fp32 and evaluated with "
            "the fp32 forward on tinystories-paragraphs"),
        "formula_asym": (
            "per row, per group of consecutive input columns [s, min(s+g, cols)) (g = -1: whole "
            "row; the last group is shorter when g does not divide cols, e.g. down_proj cols=172: "
            "g32 -> 5x32 + 12, g16 -> 10x16 + 12); xmin = min(min(w), 0), xmax = max(max(w), 0); "
            "if xmin == 0 and xmax == 0: xmin = -1, xmax = 1; scale = (xmax - xmin) / (2^b - 1); "
            "zero = round(-xmin / scale); q = clamp(round(w / scale) + zero, 0, 2^b - 1); "
            "w_hat = scale * (q - zero). All fp32 arithmetic, true division w / scale (not "
            "multiplication by a reciprocal); round = torch.round = round half to even."),
        "formula_sym": (
            "GPTQ reference Quantizer.find_params (IST-DASLab/gptq quant.py) with sym=True: "
            "xmin = min(min(w), 0), xmax = max(max(w), 0); xmax = max(|xmin|, xmax); where "
            "xmin < 0: xmin = -xmax (a group with no negative value keeps xmin = 0, so its scale "
            "is xmax/(2^b-1), not 2*xmax/(2^b-1) -- a quirk of the reference; see "
            "stats.sym_nonneg_groups for whether it occurs); all-zero -> -1, +1; scale = (xmax - "
            "xmin) / (2^b - 1) (= 2*max|w| / (2^b - 1) normally); zero = (2^b - 1 + 1) / 2 = "
            "2^(b-1) (8 for 4 bits); q and w_hat as in the asymmetric case"),
        "codes_sha256_layout": ("per tensor: SHA-256 of the uint8 codes q in Hugging Face layout "
                                "[out, in] row-major (q_proj/k_proj rows permuted as in "
                                "stories260K-hf, which is a pure row permutation, so RTN commutes "
                                "with it)"),
        "rounding_ties_note": (
            "stats.half_ties_* count values whose fractional part is exactly 0.5 in fp32 "
            "(half_tie_values: which values). Asymmetric configs have none. Symmetric 4-bit has "
            "w/scale == +-7.5 exactly for most groups' abs-max element (scale = 2*max/15): "
            "half-to-even and half-away-from-zero agree there (7.5 -> 8 -> code 16 clamped to 15; "
            "-7.5 -> -8 -> code 0, w_hat = -8*scale), but floor(x + 0.5) (-7.5 -> -7) or "
            "w * (1/scale) instead of w / scale (7.4999995...) would not"),
        "configs": [],
    }
    configs = [(b, g, False) for b in (4, 3) for g in (-1, 32, 16)] + [(4, 32, True)]
    detail_name = "model.layers.0.mlp.down_proj.weight"
    for bits, group, sym in configs:
        qm, per_tensor, stats, mse = quantize_model(fast, cfg, bits, group, sym)
        t0 = time.time()
        r = window_nll(qm, toks, WINDOW)
        print(f"RTN b{bits} g{group} sym={sym}: ppl {r['ppl']:.6f} ({time.time()-t0:.1f}s)",
              stats, flush=True)
        entry = {"bits": bits, "group_size": group, "sym": sym, "ppl": r["ppl"],
                 "nll_sum": r["nll_sum"], "mean_nll": r["mean_nll"],
                 "predicted_tokens": r["predicted_tokens"], "weight_mse": mse,
                 "stats": stats, "tensors": per_tensor}
        if bits == 4 and group == 32:
            deq, codes, scales, zeros, spans = rtn(model.w["w2"][0], bits, group, sym)
            entry["detail"] = {"tensor": detail_name, "codes": codes.tolist(),
                               "scales": [r6(s) for s in scales], "zeros": zeros.int().tolist(),
                               "group_spans": spans,
                               "scales_note": "rounded to 1e-6 for display; codes exact"}
        rtn_out["configs"].append(entry)
    out["rtn"] = rtn_out

    # --- cross checks ----------------------------------------------------------------------------
    cc = {}
    x = torch.tensor(toks[: 8 * WINDOW]).view(8, WINDOW)
    with torch.no_grad():
        a = model.forward(x)
    cc["fp64_vs_fp32_forward_ppl_rel_diff"] = abs(res64["ppl"] / res["ppl"] - 1)
    ref_path = os.path.join(hf_dir, "reference_outputs.json")
    ref = json.load(open(ref_path))
    gg = model.greedy([tok.bos], 80)
    lg = model.forward(torch.tensor([ref["greedy_ids_including_bos"]]))[0]
    cc["reference_outputs_json"] = {
        "greedy_ids_equal": gg == ref["greedy_ids_including_bos"],
        "full_logits_max_abs_diff": max(
            float((lg[int(p)] - torch.tensor(v)).abs().max()) for p, v in
            ref["full_logits"].items()),
        "full_logits_note": "reference_outputs.json rounds logits to 1e-5",
        "teacher_forced_mean_nll": float(torch.nn.functional.cross_entropy(
            lg[:-1], torch.tensor(ref["greedy_ids_including_bos"][1:]))),
        "teacher_forced_mean_nll_reference": ref["teacher_forced_on_greedy_ids"]["mean_nll_nats"],
    }
    cc["sentencepiece"] = {
        "version": spm.__version__,
        "paragraphs_differing_from_llama2c_encode": sum(
            tok.encode(p) != [tok.bos] + sp.encode(p) for p in paras),
        "calib_docs_differing_from_llama2c_encode": sum(
            tok.encode(d) != [tok.bos] + sp.encode(d) for d in docs),
        "note": "sentencepiece's normalizer collapses runs of spaces; llama2.c's encode does not",
    }
    cc["rope_tables_vs_checkpoint_freq_cis_max_abs_diff"] = max(
        float((model.cos - w["freq_cis_real"]).abs().max()),
        float((model.sin - w["freq_cis_imag"]).abs().max()))
    if not args.no_hf:
        from transformers import AutoTokenizer, LlamaForCausalLM
        hf = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
        ht = AutoTokenizer.from_pretrained(hf_dir)
        with torch.no_grad():
            b = hf(x).logits
        d = (a - b).abs()
        # same forward with HF-style fp32 RoPE angles: isolates the RoPE-angle precision effect
        m32 = model.with_linears({})
        inv = 1.0 / (10000.0 ** (torch.arange(0, cfg["head_dim"], 2).float() / cfg["head_dim"]))
        ang = torch.arange(cfg["seq_len"]).float()[:, None] * inv[None]
        m32.cos, m32.sin = ang.cos(), ang.sin()
        with torch.no_grad():
            a32 = m32.forward(x)

        class HFWrap:
            def forward(self, t):
                return hf(t).logits

        r_hf = window_nll(HFWrap(), toks, WINDOW)
        hids = ht(paras)["input_ids"]
        flat = [i for s in hids for i in s]
        cids = ht(docs)["input_ids"]
        cc["transformers"] = {
            "version": __import__("transformers").__version__,
            "logits_max_abs_diff_8_windows_x_512": float(d.max()),
            "logits_max_abs_diff_by_position_block_of_64": [
                float(d[:, i:i + 64].max()) for i in range(0, WINDOW, 64)],
            "logits_max_abs_diff_with_fp32_rope_angles": float((a32 - b).abs().max()),
            "logits_max_abs": float(b.abs().max()),
            "ppl_tinystories_paragraphs": r_hf["ppl"],
            "ppl_rel_diff": abs(r_hf["ppl"] / res["ppl"] - 1),
            "tokenizer_identical_on_all_paragraphs": flat == toks,
            "tokenizer_identical_on_64_calib_docs": cids == [tok.encode(t) for t in docs],
            "tokenizer_identical_on_examples": all(
                ht(e["text"])["input_ids"] == e["ids_with_bos"]
                for e in out["tokenizer_examples"]),
            "greedy_equal": hf.generate(torch.tensor([[1]]), max_new_tokens=80, do_sample=False,
                                        min_new_tokens=80)[0].tolist() == g,
        }
        print("cross checks", cc["transformers"], flush=True)
    out["cross_checks"] = cc
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    dump_json(args.out, out)
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
