"""Variable-length sequences without padding code: one compile per bucket, exact results.

A mean-pooled self-attention encoder scores sentences of every length. With
`dynamic_axes={"tokens": 0}` jitcore compiles one specialization per power-of-two bucket of
lengths and runs each call with its true length, so the results equal the exact-shape
function's (no masks to write, nothing to slice off). The same function called with exact
shapes would compile once per distinct length, as JAX does.

Run: python examples/variable_length.py   (`--small` for a quick run)
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import config


def encode(tokens, w):
    """tokens: (length, d) embeddings -> a d-vector (attention, layer norm, mean pooling)."""
    q, k, v = tokens @ w["q"], tokens @ w["k"], tokens @ w["v"]
    att = jc.nn.softmax(q @ k.T / np.sqrt(q.shape[-1]).astype(np.float32), axis=-1)
    h = tokens + att @ v
    h = (h - h.mean(-1, keepdims=True)) / jnp.sqrt(h.var(-1, keepdims=True) + 1e-5)
    return h.mean(0)


def encode_np(tokens, w):
    q, k, v = tokens @ w["q"], tokens @ w["k"], tokens @ w["v"]
    s = q @ k.T / np.sqrt(q.shape[-1])
    s = np.exp(s - s.max(-1, keepdims=True))
    h = tokens + (s / s.sum(-1, keepdims=True)) @ v
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
    return h.mean(0)


def main(small=False):
    rng = np.random.default_rng(0)
    d, calls, max_len = (16, 24, 120) if small else (32, 400, 1000)
    w = {k: (rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32) for k in "qkv"}
    lengths = rng.integers(1, max_len + 1, calls)
    sentences = [rng.standard_normal((int(n), d)).astype(np.float32) for n in lengths]

    bucketed = jc.jit(encode, dynamic_axes={"tokens": 0})
    exact = jc.jit(encode, auto_dynamic=0)
    results = {}
    with config.override(cache=0):        # count real compiles, not disk-cache hits
        for name, f in [("buckets", bucketed), ("exact shapes", exact)]:
            t0 = time.perf_counter()
            outs = [f(s, w) for s in sentences]
            results[name] = (time.perf_counter() - t0, outs, f.cache_info())

    err = max(float(np.max(np.abs(np.asarray(a) - encode_np(s, w))))
              for a, s in zip(results["buckets"][1], sentences))
    same = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(results["buckets"][1], results["exact shapes"][1]))
    print(f"{calls} sentences, lengths 1..{max_len} ({len(set(lengths.tolist()))} distinct), "
          f"d={d}")
    for name, (t, _, info) in results.items():
        print(f"  {name:13s}: {info.compiles:4d} compiles, {t:6.2f} s in all")
    print(f"  buckets in use: {results['buckets'][2].buckets['tokens.shape[0]']}")
    print(f"  largest difference from NumPy: {err:.1e}; from exact shapes: {same:.1e}")
    return {"err": err, "same": same, "bucketed": results["buckets"][2],
            "exact": results["exact shapes"][2], "distinct": len(set(lengths.tolist()))}


if __name__ == "__main__":
    main(small="--small" in sys.argv)
