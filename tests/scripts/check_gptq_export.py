#!/usr/bin/env python3
"""Checks llmq's GPTQ exports against transformers, run by hand.

    LLMQ_GPTQ_CHECK_DIR=/tmp/gptq_check build/quant/quant_test \
        --gtest_filter=GptqExportTest.WriteCheckDirectory
    /work/venv/bin/python tests/scripts/check_gptq_export.py /tmp/gptq_check

Each sub-directory is one export plus llmq_logits.safetensors (tokens, the logits llmq
computed before exporting). For each:

  1. dequantize: qweight / qzeros / scales / g_idx are unpacked here in numpy, written
     independently of llmq's C++ from the GPTQ format as AutoGPTQ and GPTQModel pack it
     (codes along the input dim as a little-endian bit stream in int32 words; v1 zeros
     stored as zero - 1, undone per word for 2/4/8 bits as GPTQModel does, per field for
     3 bits), W = scales[g_idx] * (q - zeros[g_idx]);
  2. a dense transformers model is built from config.json (quantization_config removed)
     with those weights and every other tensor of the export, and its logits on the same
     tokens are compared with llmq's;
  3. when gptqmodel and optimum are importable, the export is also loaded as is by
     transformers' GPTQ integration (float32) and its logits compared too;
  4. with --gptqmodel-load, also by GPTQModel.load (torch kernel, float16: GPTQModel's
     torch kernel computes in fp16/bf16 only, so expect ~1e-3 relative differences).

Exit status 0 when every dense check passes (step 3 only reports).
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.numpy import load_file

TOLERANCE = 1e-4  # max |diff| / max |logit|: float32, different operation order


def unpack_words(words, bits, n):
    """words (w, cols) uint32, a bit stream per column -> (n, cols) codes."""
    w, cols = words.shape
    stream = np.concatenate([words.astype(np.uint64), np.zeros((1, cols), np.uint64)])
    k = np.arange(n, dtype=np.uint64)
    bit = k * np.uint64(bits)
    word = (bit // np.uint64(32)).astype(np.int64)
    off = (bit % np.uint64(32))[:, None]
    pair = stream[word] | (stream[word + 1] << np.uint64(32))  # (n, cols)
    return ((pair >> off) & np.uint64((1 << bits) - 1)).astype(np.int64)


def zeros_of(qzeros, bits, out, v1):
    """qzeros (groups, words) int32 -> zero points (groups, out)."""
    words = qzeros.view(np.uint32).copy()
    if v1 and bits in (2, 4, 8):
        per_word = 32 // bits
        for i in range(words.shape[1]):
            used = min(per_word, out - i * per_word)
            ones = sum(1 << (j * bits) for j in range(used))
            words[:, i] = (words[:, i].astype(np.uint64) + ones) % (1 << 32)
    z = unpack_words(words.T, bits, out).T  # unpack along out: treat rows as columns
    if v1 and bits == 3:
        z = (z + 1) & 7
    return z


def legacy_zero_mismatches(qzeros, bits, out):
    """How many zero points the per-field reading ((field + 1) & mask) gets wrong."""
    if bits == 3:
        return 0
    fields = unpack_words(qzeros.view(np.uint32).T, bits, out).T
    legacy = (fields + 1) & ((1 << bits) - 1)
    return int((legacy != zeros_of(qzeros, bits, out, True)).sum())


def dequantize(t, prefix, bits, v1):
    qweight, qzeros = t[prefix + ".qweight"], t[prefix + ".qzeros"]
    scales = t[prefix + ".scales"].astype(np.float32)  # (groups, out)
    g_idx = t[prefix + ".g_idx"].astype(np.int64)  # (in)
    out, n_in = scales.shape[1], g_idx.shape[0]
    q = unpack_words(qweight.view(np.uint32), bits, n_in)  # (in, out)
    z = zeros_of(qzeros, bits, out, v1)  # (groups, out)
    w = scales[g_idx] * (q - z[g_idx]).astype(np.float32)  # (in, out)
    return w.T.copy(), legacy_zero_mismatches(qzeros, bits, out)


def dense_logits(d, tokens):
    from transformers import AutoConfig, AutoModelForCausalLM

    qc = json.load(open(os.path.join(d, "quantize_config.json")))
    bits, v1 = qc["bits"], qc.get("checkpoint_format", "gptq") == "gptq"
    t = load_file(os.path.join(d, "model.safetensors"))
    state, legacy = {}, 0
    for name, value in t.items():
        if name.endswith(".qweight"):
            prefix = name[: -len(".qweight")]
            w, bad = dequantize(t, prefix, bits, v1)
            state[prefix + ".weight"] = torch.from_numpy(w)
            legacy += bad
        elif not name.endswith((".qzeros", ".scales", ".g_idx")):
            state[name] = torch.from_numpy(value.copy()).float()
    config = AutoConfig.from_pretrained(d)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"missing {missing} unexpected {unexpected}")
    model.tie_weights()
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(tokens)).logits.float().numpy(), legacy


def gptqmodel_logits(d, tokens):
    try:
        import gptqmodel  # noqa: F401
        import optimum  # noqa: F401
    except ImportError as e:
        return None, f"skipped ({e.name} not installed)"
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(d, device_map="cpu", dtype=torch.float32)
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(tokens)).logits.float().numpy(), "loaded"
    except Exception as e:  # report, do not fail: portability is best effort
        return None, f"refused: {type(e).__name__}: {str(e).splitlines()[0][:160]}"


def gptqmodel_load_logits(d, tokens):
    try:
        from gptqmodel import BACKEND, GPTQModel
    except ImportError as e:
        return None, f"skipped ({e.name} not installed)"
    try:
        model = GPTQModel.load(d, device="cpu", backend=BACKEND.TORCH, dtype=torch.float16)
        with torch.no_grad():
            return model.model(torch.from_numpy(tokens)).logits.float().numpy(), "loaded"
    except Exception as e:
        return None, f"refused: {type(e).__name__}: {str(e).splitlines()[0][:160]}"


def relative(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    use_gptqmodel_load = "--gptqmodel-load" in sys.argv
    root = args[0] if args else os.environ.get("LLMQ_GPTQ_CHECK_DIR", "")
    if not root or not os.path.isdir(root):
        sys.exit(__doc__)
    torch.manual_seed(0)
    failures = 0
    dirs = sorted(x for x in os.listdir(root) if os.path.isfile(os.path.join(root, x, "quantize_config.json")))
    for name in dirs:
        d = os.path.join(root, name)
        ref = load_file(os.path.join(d, "llmq_logits.safetensors"))
        tokens, llmq = ref["tokens"].astype(np.int64), ref["logits"]
        try:
            dense, legacy = dense_logits(d, tokens)
            err = relative(dense, llmq)
            ok = err <= TOLERANCE and (dense.argmax(-1) == llmq.argmax(-1)).all()
            line = f"dense-from-numpy-dequant rel_err={err:.2e} {'PASS' if ok else 'FAIL'}"
            line += f"; legacy per-field zero reading differs on {legacy} zero points"
        except Exception as e:
            ok, line = False, f"dense check FAILED: {type(e).__name__}: {e}"
        failures += 0 if ok else 1
        g, status = gptqmodel_logits(d, tokens)
        if g is not None:
            status = f"gptqmodel rel_err={relative(g, llmq):.2e}"
        print(f"{name:40s} {line}; transformers+gptqmodel: {status}", flush=True)
        if use_gptqmodel_load:
            g, status = gptqmodel_load_logits(d, tokens)
            if g is not None:
                status = f"rel_err={relative(g, llmq):.2e}"
            print(f"{'':40s} GPTQModel.load fp16: {status}", flush=True)
    print(f"{len(dirs) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
