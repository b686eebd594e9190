"""Independent llama2.c reference pieces for llmq's fixtures (run by hand, never by llmq).

Written from the llama2.c formats (run.c / model.py / export.py conventions), with plain PyTorch:
no transformers, no llmq code. Used by reference_stories260k.py and reference_gptq.py.

  * read_checkpoint_v0  - llama2.c legacy (v0) .bin: 7 x int32 header, fp32 tensors.
  * Llama2cTokenizer    - tok512.bin; encode() = llama2.c encode(): BOS, dummy-prefix " ",
                          UTF-8 code points looked up whole, byte fallback (byte + 3), then
                          repeatedly merge the adjacent pair whose concatenation is in the vocab
                          with the highest score (leftmost pair on ties).
  * Llama2cModel        - fp32 forward: RMSNorm (eps 1e-5), llama2.c interleaved-pair RoPE,
                          GQA (query head h uses kv head h // (n_heads / n_kv_heads)),
                          SwiGLU FFN, shared classifier.
  * quantizers          - RTN asymmetric/symmetric (the GPTQ reference quantizer's formulas).
"""

import hashlib
import heapq
import json
import math
import struct

import numpy as np
import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

LINEAR_NAMES = ["wq", "wk", "wv", "wo", "w1", "w3", "w2"]  # per layer, llama2.c names
HF_NAMES = {
    "wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj",
    "wo": "self_attn.o_proj", "w1": "mlp.gate_proj", "w3": "mlp.up_proj", "w2": "mlp.down_proj",
}


# ----------------------------------------------------------------------------------------------
# checkpoint

def read_checkpoint_v0(path):
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    head = dim // n_heads
    floats = np.frombuffer(data, dtype="<f4", offset=28)
    off = 0

    def take(*shape):
        nonlocal off
        n = int(np.prod(shape))
        t = torch.from_numpy(floats[off:off + n].copy()).reshape(shape)
        off += n
        return t

    w = {}
    w["tok_emb"] = take(vocab, dim)
    w["rms_att"] = take(n_layers, dim)
    w["wq"] = take(n_layers, n_heads * head, dim)
    w["wk"] = take(n_layers, n_kv * head, dim)
    w["wv"] = take(n_layers, n_kv * head, dim)
    w["wo"] = take(n_layers, dim, n_heads * head)
    w["rms_ffn"] = take(n_layers, dim)
    w["w1"] = take(n_layers, hidden, dim)
    w["w2"] = take(n_layers, dim, hidden)
    w["w3"] = take(n_layers, hidden, dim)
    w["rms_final"] = take(dim)
    w["freq_cis_real"] = take(seq_len, head // 2)
    w["freq_cis_imag"] = take(seq_len, head // 2)
    if not shared:
        w["wcls"] = take(vocab, dim)
    else:
        w["wcls"] = w["tok_emb"]
    assert off == floats.size, (off, floats.size)
    cfg = dict(dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
               vocab_size=vocab, seq_len=seq_len, shared_classifier=shared, head_dim=head)
    return cfg, w


def hf_permute(w, n_heads):
    """llama2.c export.py: interleaved RoPE rows -> HF rotate_half rows (q_proj/k_proj)."""
    d1, d2 = w.shape
    return w.view(n_heads, d1 // n_heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)


# ----------------------------------------------------------------------------------------------
# tokenizer

class Llama2cTokenizer:
    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.max_token_length = struct.unpack("<i", data[:4])[0]
        off = 4
        self.pieces, self.scores = [], []
        while off < len(data):
            score, n = struct.unpack("<fi", data[off:off + 8])
            off += 8
            self.pieces.append(data[off:off + n])
            self.scores.append(score)
            off += n
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            # llama2.c sorts and bsearches; duplicates would make it ambiguous -> forbid them
            assert p not in self.lookup, ("duplicate piece", p)
            self.lookup[p] = i
        self.bos, self.eos = 1, 2

    def _initial(self, text):
        b = text.encode("utf-8")
        ids = []
        if len(b) > 0:
            ids.append(self.lookup[b" "])  # add_dummy_prefix
        i = 0
        while i < len(b):
            j = i + 1
            # llama2.c: gather continuation bytes (10xxxxxx), at most 4 bytes in the buffer
            while j < len(b) and (b[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = b[i:j]
            if cp in self.lookup:
                ids.append(self.lookup[cp])
            else:
                ids.extend(x + 3 for x in cp)  # byte fallback: <0x00> is id 3
            i = j
        return ids

    def encode_naive(self, text, bos=True):
        """Literal transcription of llama2.c's O(n^2) merge loop (used to check encode())."""
        ids = self._initial(text)
        while True:
            best, best_id, best_i = -1e10, -1, -1
            for i in range(len(ids) - 1):
                m = self.lookup.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                if m is not None and self.scores[m] > best:
                    best, best_id, best_i = self.scores[m], m, i
            if best_i == -1:
                break
            ids[best_i:best_i + 2] = [best_id]
        return ([self.bos] if bos else []) + ids

    def encode(self, text, bos=True):
        """Same result as encode_naive (highest score first, leftmost on ties), with a heap."""
        ids = self._initial(text)
        n = len(ids)
        tok = list(ids)
        nxt = list(range(1, n + 1))
        prv = list(range(-1, n - 1))
        alive = [True] * n
        heap = []

        def push(i):
            j = nxt[i]
            if j >= n:
                return
            m = self.lookup.get(self.pieces[tok[i]] + self.pieces[tok[j]])
            if m is not None:
                heapq.heappush(heap, (-self.scores[m], i, j, tok[i], tok[j], m))

        for i in range(n - 1):
            push(i)
        while heap:
            negs, i, j, ti, tj, m = heapq.heappop(heap)
            if not (alive[i] and alive[j] and nxt[i] == j and tok[i] == ti and tok[j] == tj):
                continue
            tok[i] = m
            alive[j] = False
            nxt[i] = nxt[j]
            if nxt[j] < n:
                prv[nxt[j]] = i
            if prv[i] >= 0:
                push(prv[i])
            push(i)
        out = [tok[i] for i in range(n) if alive[i]]
        return ([self.bos] if bos else []) + out

    def decode_piece(self, prev, cur):
        p = self.pieces[cur]
        if prev == self.bos and p[:1] == b" ":
            p = p[1:]  # llama2.c: strip the leading space after BOS
        if len(p) == 6 and p[:3] == b"<0x" and p[5:] == b">":
            try:
                return bytes([int(p[3:5], 16)])
            except ValueError:
                pass
        return p

    def decode(self, ids):
        out = b""
        prev = None
        for t in ids:
            if t == self.bos:
                prev = t
                continue
            out += self.decode_piece(prev, t)
            prev = t
        return out.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------
# model

def rope_tables(seq_len, head_dim, theta=10000.0):
    """cos/sin [seq_len, head_dim/2] computed in float64, then rounded to fp32.
    Pair j (elements 2j, 2j+1 of a head) rotates by pos * theta^(-2j/head_dim)."""
    j = torch.arange(0, head_dim, 2, dtype=torch.float64)
    freq = 1.0 / (theta ** (j / head_dim))
    ang = torch.arange(seq_len, dtype=torch.float64)[:, None] * freq[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


class Llama2cModel:
    def __init__(self, cfg, w, eps=1e-5, sdpa=False):
        """sdpa=False: attention written out (softmax(q k^T / sqrt(d) + causal -inf mask) v);
        sdpa=True: torch scaled_dot_product_attention(is_causal=True), used for the long
        perplexity runs."""
        self.sdpa = sdpa
        self.cfg = cfg
        self.w = {k: v.float().contiguous() for k, v in w.items()}
        self.eps = eps
        self.cos, self.sin = rope_tables(cfg["seq_len"], cfg["head_dim"])

    def linear(self, name, layer):
        return self.w[name][layer]

    def rmsnorm(self, x, weight):
        ms = (x * x).mean(-1, keepdim=True)
        return x * torch.rsqrt(ms + self.eps) * weight

    def rope(self, x):
        # x [B, T, H, hd]; llama2.c rotates consecutive pairs (x[2j], x[2j+1])
        T = x.shape[1]
        cos = self.cos[:T][None, :, None, :]
        sin = self.sin[:T][None, :, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        y0 = x0 * cos - x1 * sin
        y1 = x0 * sin + x1 * cos
        return torch.stack([y0, y1], dim=-1).flatten(-2)

    def attention(self, h, layer, hooks=None):
        cfg = self.cfg
        B, T, D = h.shape
        H, KV, hd = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
        if hooks is not None:
            hooks("qkv", layer, h)
        q = (h @ self.linear("wq", layer).T).view(B, T, H, hd)
        k = (h @ self.linear("wk", layer).T).view(B, T, KV, hd)
        v = (h @ self.linear("wv", layer).T).view(B, T, KV, hd)
        q, k = self.rope(q), self.rope(k)
        rep = H // KV
        k = k.repeat_interleave(rep, dim=2)  # head h -> kv head h // rep
        v = v.repeat_interleave(rep, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, hd]
        if self.sdpa:
            # fused kernel (no T x T matrix): same math, ~1e-6 different rounding, ~8x faster
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
            att = att.masked_fill(mask, float("-inf"))
            att = torch.softmax(att, dim=-1)
            o = att @ v
        o = o.transpose(1, 2).reshape(B, T, H * hd)
        if hooks is not None:
            hooks("o", layer, o)
        return o @ self.linear("wo", layer).T

    def ffn(self, h, layer, hooks=None):
        if hooks is not None:
            hooks("gate_up", layer, h)
        a = h @ self.linear("w1", layer).T
        b = h @ self.linear("w3", layer).T
        g = torch.nn.functional.silu(a) * b
        if hooks is not None:
            hooks("down", layer, g)
        return g @ self.linear("w2", layer).T

    def block(self, x, layer, hooks=None):
        x = x + self.attention(self.rmsnorm(x, self.w["rms_att"][layer]), layer, hooks)
        x = x + self.ffn(self.rmsnorm(x, self.w["rms_ffn"][layer]), layer, hooks)
        return x

    def embed(self, tokens):
        return self.w["tok_emb"][tokens]

    def head(self, x):
        return self.rmsnorm(x, self.w["rms_final"]) @ self.w["wcls"].T

    @torch.no_grad()
    def forward(self, tokens):
        x = self.embed(tokens)
        for l in range(self.cfg["n_layers"]):
            x = self.block(x, l)
        return self.head(x)

    @torch.no_grad()
    def greedy(self, prompt, n_new):
        ids = list(prompt)
        for _ in range(n_new):
            logits = self.forward(torch.tensor([ids]))[0, -1]
            ids.append(int(torch.argmax(logits)))
        return ids

    def with_linears(self, new):
        """A copy whose linears are replaced: new[name] = tensor [n_layers, out, in]."""
        w = dict(self.w)
        w.update(new)
        m = Llama2cModel.__new__(Llama2cModel)
        m.cfg, m.w, m.eps, m.cos, m.sin = self.cfg, w, self.eps, self.cos, self.sin
        m.sdpa = self.sdpa
        return m

    def with_sdpa(self, sdpa):
        m = self.with_linears({})
        m.sdpa = sdpa
        return m


# ----------------------------------------------------------------------------------------------
# protocol

def tinystories_paragraphs(path):
    """Paragraphs = text.split("\\n\\n"), each stripped, empty ones dropped. (A line holding only
    spaces is NOT a paragraph break: the file has two such lines.)"""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [p for p in (q.strip() for q in text.split("\n\n")) if p]


def concat_encode(tok, texts):
    out = []
    for t in texts:
        out.extend(tok.encode(t, bos=True))
    return out


@torch.no_grad()
def window_nll(model, tokens, window=512, batch=32):
    """Non-overlapping windows of `window` tokens (last partial one dropped); in each window
    positions 1..window-1 are predicted from the previous ones. Per-token NLL from fp32
    log_softmax of fp32 logits; summed in float64."""
    n_win = len(tokens) // window
    t = torch.tensor(tokens[: n_win * window], dtype=torch.long).view(n_win, window)
    total = 0.0
    for s in range(0, n_win, batch):
        x = t[s:s + batch]
        logits = model.forward(x)
        lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        nll = -lp.gather(-1, x[:, 1:, None]).squeeze(-1)
        total += float(nll.double().sum())
    n_pred = n_win * (window - 1)
    return dict(windows=n_win, predicted_tokens=n_pred, nll_sum=total,
                mean_nll=total / n_pred, ppl=math.exp(total / n_pred))


# ----------------------------------------------------------------------------------------------
# quantizers (GPTQ reference quantizer formulas, fp32 arithmetic, torch.round = half-to-even)

def quant_params(x, bits, sym):
    """x [rows, cols] fp32 -> (scale, zero) [rows, 1], exactly GPTQ's Quantizer.find_params
    (perchannel, weight=True, no mse)."""
    maxq = 2 ** bits - 1
    zeros = torch.zeros(x.shape[0], dtype=x.dtype)
    xmin = torch.minimum(x.min(1).values, zeros)
    xmax = torch.maximum(x.max(1).values, zeros)
    if sym:
        xmax = torch.maximum(xmin.abs(), xmax)
        neg = xmin < 0
        xmin = torch.where(neg, -xmax, xmin)
    both0 = (xmin == 0) & (xmax == 0)
    xmin = torch.where(both0, torch.full_like(xmin, -1.0), xmin)
    xmax = torch.where(both0, torch.full_like(xmax, 1.0), xmax)
    scale = (xmax - xmin) / maxq
    if sym:
        zero = torch.full_like(scale, (maxq + 1) / 2)
    else:
        zero = torch.round(-xmin / scale)
    return scale[:, None], zero[:, None]


def quant_codes(x, scale, zero, bits):
    maxq = 2 ** bits - 1
    return torch.clamp(torch.round(x / scale) + zero, 0, maxq)


def dequant(q, scale, zero):
    return scale * (q - zero)


def rtn(w, bits, group, sym=False):
    """Round-to-nearest per group of consecutive input columns (group -1 = whole row; the last
    group is shorter when group does not divide the row). Returns (dequantized fp32 weight,
    integer codes, per-group scales, zeros, list of (start, end))."""
    w = w.float()
    rows, cols = w.shape
    g = cols if group == -1 else group
    deq = torch.empty_like(w)
    codes = torch.empty_like(w)
    scales, zeros, spans = [], [], []
    for s in range(0, cols, g):
        e = min(s + g, cols)
        sc, z = quant_params(w[:, s:e], bits, sym)
        q = quant_codes(w[:, s:e], sc, z, bits)
        codes[:, s:e] = q
        deq[:, s:e] = dequant(q, sc, z)
        scales.append(sc[:, 0])
        zeros.append(z[:, 0])
        spans.append((s, e))
    return deq, codes.to(torch.uint8), torch.stack(scales, 1), torch.stack(zeros, 1), spans


def sha256_tensor(t, dtype):
    return hashlib.sha256(t.contiguous().numpy().astype(dtype).tobytes()).hexdigest()


def dump_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
