#!/usr/bin/env python3
"""llm-compressor's SmoothQuant W8A8 and FP8 schemes on stories260K, for comparison with llmq.

Run by hand (llmq never runs Python), in a venv outside the repo holding llmcompressor,
compressed-tensors, transformers, safetensors, datasets and a CPU-capable torch:
    python tests/scripts/compare_llmcompressor_w8.py [--assets assets] [--threads N] [--json OUT]
        [--only smoothquant_w8a8,fp8_dynamic,...]

What it does, all on the CPU:
  1. loads assets/models/stories260K-hf with transformers (fp32, sdpa attention) and checks its
     perplexity on the tinystories-paragraphs protocol of llama2c_ref.py (tinystories_val.txt
     split into paragraphs, each encoded with BOS by the llama2.c tokenizer, concatenated,
     non-overlapping 512-token windows, window_nll) equals the fp32 value 5.3537 (+-1e-3);
  2. calibration: first 64 documents of assets/data/calib/c4_sample.jsonl, each encoded with
     BOS, concatenated, first 32 windows of 512 tokens (reference_gptq.py's protocol = llmq's
     calibration `first`, 32 x 512), handed to llmcompressor.oneshot as a tokenized dataset;
  3. applies llm-compressor recipes to fresh copies of the model (lm_head ignored; it is tied to
     the embedding, which is never quantized):
       * SmoothQuantModifier(smoothing_strength=0.5) + QuantizationModifier(scheme="W8A8")
         (int8 symmetric per-channel weights, dynamic per-token int8 activations),
       * W8A8 without smoothing,
       * FP8 weight-only per-tensor and per-channel (custom compressed-tensors schemes: E4M3,
         symmetric, static min-max scales),
       * preset "FP8" (per-tensor weights + static per-tensor E4M3 activations),
       * preset "FP8_DYNAMIC" (per-channel weights + dynamic per-token E4M3 activations),
       * int8 weight-only per-channel, symmetric and asymmetric (custom schemes: compressed-tensors'
         preset "W8A16" is group-128, which it refuses for down_proj's 172 columns),
     and evaluates each with compressed-tensors' fake-quantized forward (quantize-dequantize of
     weights and, where the scheme has them, input activations, in torch) on the same windows;
  4. prints a table: scheme, ppl, relative change vs fp32, and llmq's number for the same
     setting (recorded from llmq's sweep, tests/stories260k_quant_table_test.cc);
  5. per-layer check of the smoothing: llm-compressor's scales on model.layers.0.input_layernorm
     (recovered as norm weight before / after oneshot) against s = max|X|^0.5 / max|W|^0.5
     computed here from the fp32 model's layer-0 q/k/v input over the same calibration tokens.

Known definitional differences from llmq (they are what the numbers show):
  * llm-compressor's SmoothQuant uses the activation range max(X) - min(X) per channel and
    2 * max|W| (smoothquant/base.py), i.e. s = (max - min)^a / (2 max|W|)^(1-a); for a = 0.5
    this equals llmq's max|X|^a / max|W|^(1-a) only where a channel's range is symmetric;
  * compressed-tensors' symmetric int8 scale is absmax / 127.5 (range [-128, 127]); llmq uses
    absmax / 127 (range [-127, 127]);
  * FP8 scales are absmax / 448 in both.
"""

import argparse
import contextlib
import copy
import io
import json
import math
import os
import platform
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c_ref import (Llama2cTokenizer, concat_encode, tinystories_paragraphs,  # noqa: E402
                         window_nll)

WINDOW = 512
FP32_PPL_LLMQ = 5.3537
# llmq's numbers for the same settings (tinystories-paragraphs ppl, stories260K)
LLMQ = {
    "fp32": 5.3537,
    "smoothquant_w8a8": 5.3575,
    "fp8_w_tensor": 5.4036,
    "fp8_w_channel": 5.3997,
    "fp8_dynamic": 5.4263,
    "int8_w_channel_asym": 5.3614,
}


class HfLM:
    """window_nll's model interface (forward(tokens) -> logits) over a transformers model."""

    def __init__(self, model):
        self.model = model

    @torch.no_grad()
    def forward(self, x):
        return self.model(input_ids=x, use_cache=False).logits.float()


def load_model(path):
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32,
                                             attn_implementation="sdpa")
    m.eval()
    return m


def schemes():
    from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme

    def weight_only(**kw):
        return {"group_0": QuantizationScheme(targets=["Linear"],
                                              weights=QuantizationArgs(num_bits=8, **kw))}

    # (key, label, smoothquant?, QuantizationModifier kwargs)
    return [
        ("smoothquant_w8a8", "SmoothQuant a=0.5 + W8A8 (int8 per-ch W, dyn per-token int8 A)",
         True, dict(scheme="W8A8")),
        ("fp8_w_tensor", "FP8 E4M3 weights per-tensor (weight-only)", False,
         dict(config_groups=weight_only(type="float", strategy="tensor", symmetric=True,
                                        dynamic=False))),
        ("fp8_w_channel", "FP8 E4M3 weights per-channel (weight-only)", False,
         dict(config_groups=weight_only(type="float", strategy="channel", symmetric=True,
                                        dynamic=False))),
        ("fp8_dynamic", "preset FP8_DYNAMIC (per-ch W + dyn per-token E4M3 A)", False,
         dict(scheme="FP8_DYNAMIC")),
        ("w8a8_nosmooth", "W8A8 without SmoothQuant", False, dict(scheme="W8A8")),
        ("fp8_static", "preset FP8 (per-tensor W + static per-tensor E4M3 A)", False,
         dict(scheme="FP8")),
        ("int8_w_channel_sym", "int8 sym per-ch weight-only", False,
         dict(config_groups=weight_only(type="int", strategy="channel", symmetric=True,
                                        dynamic=False))),
        ("int8_w_channel_asym", "int8 asym per-ch weight-only", False,
         dict(config_groups=weight_only(type="int", strategy="channel", symmetric=False,
                                        dynamic=False))),
    ]


def run_oneshot(model, calib, smooth, qkw, log):
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform.smoothquant import SmoothQuantModifier

    recipe = []
    if smooth:
        recipe.append(SmoothQuantModifier(smoothing_strength=0.5))
    recipe.append(QuantizationModifier(targets="Linear", ignore=["lm_head"], **qkw))
    ds = Dataset.from_dict({"input_ids": calib.tolist(),
                            "attention_mask": torch.ones_like(calib).tolist()})
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(log):
        cwd = os.getcwd()
        os.chdir(tmp)  # oneshot may write logs / outputs into the working directory
        try:
            oneshot(model=model, dataset=ds, recipe=recipe, num_calibration_samples=calib.shape[0],
                    max_seq_length=calib.shape[1], shuffle_calibration_samples=False)
        finally:
            os.chdir(cwd)
    return model


@torch.no_grad()
def direct_smoothing_scales(model, calib, layer=0):
    """s = max|X|^0.5 / max|W|^0.5 on layer `layer`'s q/k/v input (fp32 model), together with
    the statistics llm-compressor uses (per-channel max and min of X)."""
    blk = model.model.layers[layer]
    acc = {}

    def hook(mod, inp, out):
        x = out.reshape(-1, out.shape[-1]).float()
        for k, f, red in (("absmax", x.abs().amax(0), torch.maximum),
                          ("max", x.amax(0), torch.maximum),
                          ("min", x.amin(0), torch.minimum)):
            acc[k] = f if k not in acc else red(acc[k], f)

    h = blk.input_layernorm.register_forward_hook(hook)
    for s in range(0, calib.shape[0], 8):
        model(input_ids=calib[s:s + 8], use_cache=False)
    h.remove()
    w = torch.cat([blk.self_attn.q_proj.weight, blk.self_attn.k_proj.weight,
                   blk.self_attn.v_proj.weight]).abs().amax(0)
    s_def = acc["absmax"].clamp_min(1e-5).pow(0.5) / w.clamp_min(1e-5).pow(0.5)
    s_llmc_formula = (acc["max"] - acc["min"]).pow(0.5) / (2 * w).pow(0.5)
    return s_def, s_llmc_formula


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.path.join(root, "assets"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--only", default="", help="comma-separated scheme keys (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    A = args.assets
    hf_dir = os.path.join(A, "models/stories260K-hf")

    import compressed_tensors
    import llmcompressor
    import transformers
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__,
                "llmcompressor": llmcompressor.__version__,
                "compressed_tensors": compressed_tensors.__version__}
    print("versions:", json.dumps(versions))

    tok = Llama2cTokenizer(os.path.join(A, "models/stories260K/tok512.bin"))
    toks = concat_encode(tok, tinystories_paragraphs(
        os.path.join(A, "data/tinystories/tinystories_val.txt")))
    with open(os.path.join(A, "data/calib/c4_sample.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(next(f))["text"] for _ in range(64)]
    ctoks = concat_encode(tok, docs)
    assert len(ctoks) >= 32 * WINDOW, len(ctoks)
    calib = torch.tensor(ctoks[:32 * WINDOW], dtype=torch.long).view(32, WINDOW)

    base = load_model(hf_dir)
    t0 = time.time()
    r = window_nll(HfLM(base), toks, WINDOW)
    fp32 = r["ppl"]
    print(f"fp32: ppl {fp32:.6f} over {r['windows']} windows / {r['predicted_tokens']} predicted "
          f"tokens ({time.time() - t0:.1f}s)", flush=True)
    if abs(fp32 - FP32_PPL_LLMQ) > 1e-3:
        sys.exit(f"fp32 ppl {fp32:.6f} != llmq's {FP32_PPL_LLMQ} (+-1e-3): protocol mismatch")

    s_def, s_llmc_formula = direct_smoothing_scales(base, calib)

    rows = [("fp32", "fp32 (transformers)", fp32)]
    smoothing = None
    only = set(filter(None, args.only.split(",")))
    for key, label, smooth, qkw in schemes():
        if only and key not in only:
            continue
        model = copy.deepcopy(base)
        norm0 = model.model.layers[0].input_layernorm.weight.detach().clone()
        log = io.StringIO()
        t0 = time.time()
        try:
            run_oneshot(model, calib, smooth, qkw, log)
        except Exception as e:  # report and go on with the other schemes
            print(f"{key}: oneshot FAILED: {type(e).__name__}: {e}", flush=True)
            rows.append((key, label, float("nan")))
            continue
        tq = time.time() - t0
        if smooth:
            s_llmc = norm0 / model.model.layers[0].input_layernorm.weight.detach()
            smoothing = {
                "max_rel_diff_llmc_vs_definition": float(((s_llmc - s_def) / s_def).abs().max()),
                "max_rel_diff_llmc_vs_llmc_formula_here": float(
                    ((s_llmc - s_llmc_formula) / s_llmc_formula).abs().max()),
                "ratio_llmc_over_definition_min": float((s_llmc / s_def).min()),
                "ratio_llmc_over_definition_max": float((s_llmc / s_def).max()),
                "s_definition_range": [float(s_def.min()), float(s_def.max())],
                "s_llmc_range": [float(s_llmc.min()), float(s_llmc.max())],
            }
            print("smoothing, layer 0 input_layernorm:", json.dumps(smoothing), flush=True)
        # the quantized forward really quantizes: the first linear carries a quantization scheme
        q0 = model.model.layers[0].self_attn.q_proj
        assert getattr(q0, "quantization_scheme", None) is not None, "no scheme attached"
        t0 = time.time()
        r = window_nll(HfLM(model), toks, WINDOW)
        print(f"{key}: ppl {r['ppl']:.6f} (oneshot {tq:.1f}s, eval {time.time() - t0:.1f}s)",
              flush=True)
        rows.append((key, label, r["ppl"]))

    print()
    print(f"{'scheme':<22} {'ppl':>9} {'vs fp32':>9} {'llmq':>8} {'llmq vs fp32':>13}  description")
    for key, label, ppl in rows:
        lq = LLMQ.get(key)
        lqs = f"{lq:8.4f} {100 * (lq / LLMQ['fp32'] - 1):+12.3f}%" if lq else f"{'':8} {'':13}"
        print(f"{key:<22} {ppl:9.4f} {100 * (ppl / fp32 - 1):+8.3f}% {lqs}  {label}")
    if smoothing:
        print()
        print("layer 0 input_layernorm smoothing scales (llm-compressor vs s = max|X|^.5/max|W|^.5):")
        for k, v in smoothing.items():
            print(f"  {k}: {v}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"versions": versions, "fp32_ppl": fp32,
                       "rows": [{"scheme": k, "description": d, "ppl": p,
                                 "rel_vs_fp32": p / fp32 - 1, "llmq_ppl": LLMQ.get(k)}
                                for k, d, p in rows],
                       "smoothing_layer0": smoothing}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
