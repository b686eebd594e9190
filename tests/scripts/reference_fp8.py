"""Records torch's float32 -> float8 rounding (torch.float8_e4m3fn, torch.float8_e5m2) for
model/fp8_reference_test.cc: random magnitudes over each format's whole range, every
midpoint between neighbouring fp8 values (ties), and the floats just either side of each
midpoint. Values beyond the largest finite one are left out: torch turns them into NaN
(e4m3fn) or inf (e5m2), where llmq saturates.

Run by hand with torch >= 2.1:  python tests/scripts/reference_fp8.py > tests/fixtures/reference/fp8_torch.json
"""
import json
import struct

import torch


def bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def main():
    out = {"torch_version": torch.__version__, "formats": {}}
    g = torch.Generator().manual_seed(0)
    for name, dtype, emin, emax in [("e4m3", torch.float8_e4m3fn, -12, 9), ("e5m2", torch.float8_e5m2, -19, 16)]:
        finite = torch.arange(256, dtype=torch.uint8).view(dtype).float()
        finite = finite[torch.isfinite(finite)]
        pos = torch.unique(finite[finite >= 0])  # sorted
        mids = (pos[1:] + pos[:-1]) / 2
        up = torch.nextafter(mids, torch.full_like(mids, float("inf")))
        down = torch.nextafter(mids, torch.zeros_like(mids))
        mags = torch.exp2(torch.empty(600).uniform_(emin, emax, generator=g))
        values = torch.cat([mids, up, down, mags, pos])
        signs = torch.where(torch.rand(values.shape, generator=g) < 0.5, -1.0, 1.0)
        values = torch.cat([values, values * signs])
        values = values[values.abs() <= pos.max()]
        rounded = values.to(dtype).float()
        out["formats"][name] = [[bits(v), bits(r)] for v, r in zip(values.tolist(), rounded.tolist())]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
