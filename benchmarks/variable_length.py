"""A stream of variable-length inputs through a small transformer-style block.

    python benchmarks/variable_length.py [--calls 1000] [--max-len 1000] [--dim 64]

1000 calls, lengths drawn uniformly from 1..1000 (seeded), through: projections (matmul),
attention softmax over the sequence, residual, layer norm, mean pooling over the sequence.
Total wall time, compiles included, for
- jitcore with `dynamic_axes={"x": 0}` (one compile per power-of-two bucket),
- jitcore with exact shapes (`auto_dynamic=0`: one compile per distinct length, as JAX does),
- jitcore with automatic dynamic axes (the default: exact for the first 3 lengths, then buckets),
- NumPy (float32, no compiles), and JAX when `import jax` works (compiles per shape).
The persistent compilation cache is off and in-memory caches are cleared between variants, so
every compile is a real one. Then the same stream again, everything compiled: the cost of
running at a bucket's capacity. Checks that every jitcore variant agrees with NumPy.
"""
import argparse
import time

import numpy as np

import jitcore
import jitcore.numpy as jnp
from jitcore import config


def block(x, wq, wk, wv, wo, gamma):
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.T * np.float32(1.0 / np.sqrt(q.shape[-1]))
    att = jitcore.nn.softmax(scores, axis=-1)
    h = x + (att @ v) @ wo
    mu = h.mean(-1, keepdims=True)
    h = (h - mu) / jnp.sqrt(h.var(-1, keepdims=True) + 1e-5) * gamma
    return h.mean(0)


def block_np(x, wq, wk, wv, wo, gamma):
    q, k, v = x @ wq, x @ wk, x @ wv
    s = q @ k.T * np.float32(1.0 / np.sqrt(q.shape[-1]))
    s = np.exp(s - s.max(-1, keepdims=True))
    att = s / s.sum(-1, keepdims=True)
    h = x + (att @ v) @ wo
    mu = h.mean(-1, keepdims=True)
    h = (h - mu) / np.sqrt(h.var(-1, keepdims=True) + 1e-5) * gamma
    return h.mean(0)


def stream(f, xs, ws):
    t0 = time.perf_counter()
    outs = [f(x, *ws) for x in xs]
    for o in outs[-1:]:
        np.asarray(o)
    return time.perf_counter() - t0, outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--max-len", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=64)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    d = a.dim
    ws = [(rng.standard_normal((d, d)) / np.sqrt(d)).astype(np.float32) for _ in range(4)]
    ws.append(np.ones(d, np.float32))
    lengths = rng.integers(1, a.max_len + 1, a.calls)
    xs = [rng.standard_normal((int(n), d)).astype(np.float32) for n in lengths]

    rows = []
    t_np, ref = stream(block_np, xs, ws)
    t_np2, _ = stream(block_np, xs, ws)
    rows.append(("NumPy", None, t_np, None, t_np2))
    with config.override(cache=0):
        variants = [("jitcore, dynamic_axes (buckets)", {"dynamic_axes": {"x": 0}}),
                    ("jitcore, automatic dynamic axes", {}),
                    ("jitcore, exact shapes", {"auto_dynamic": 0})]
        for name, kw in variants:
            jitcore.clear_cache()   # no machine code shared between variants
            f = jitcore.jit(block, **kw)
            t, outs = stream(f, xs, ws)
            for o, r in zip(outs[:50], ref[:50]):
                np.testing.assert_allclose(np.asarray(o), r, rtol=2e-3, atol=2e-3)
            info = f.cache_info()
            t2, _ = stream(f, xs, ws)      # the same stream again: everything compiled
            rows.append((name, info.compiles, t, info.trace_seconds + info.compile_seconds, t2))
    try:
        import jax
        jf = jax.jit(block_jax_factory(jax))
        t, _ = stream(lambda x, *w: jf(x, *w).block_until_ready(), xs, ws)
        t2, _ = stream(lambda x, *w: jf(x, *w).block_until_ready(), xs, ws)
        rows.append((f"JAX {jax.__version__} (jit, per shape)", len(set(lengths.tolist())), t,
                     None, t2))
    except ImportError:
        pass   # JAX is not a dependency: without it the table has no JAX row

    print(f"{a.calls} calls, lengths uniform in 1..{a.max_len} ({len(set(lengths.tolist()))} "
          f"distinct), d={d}, float32; persistent cache off\n")
    print("| variant | compiles | stream wall, compiles included (s) | of which trace+compile "
          "(s) | NumPy/variant | same stream again (ms per call) | NumPy/variant again |")
    print("|---|---|---|---|---|---|---|")
    for name, compiles, t, tc, t2 in rows:
        print(f"| {name} | {'-' if compiles is None else compiles} | {t:.2f} | "
              f"{'-' if tc is None else f'{tc:.2f}'} | {t_np / t:.2f}x | "
              f"{t2 / a.calls * 1e3:.2f} | {t_np2 / t2:.2f}x |")


def block_jax_factory(jax):
    jn = jax.numpy

    def block_jax(x, wq, wk, wv, wo, gamma):
        q, k, v = x @ wq, x @ wk, x @ wv
        att = jax.nn.softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=-1)
        h = x + (att @ v) @ wo
        mu = h.mean(-1, keepdims=True)
        h = (h - mu) / jn.sqrt(h.var(-1, keepdims=True) + 1e-5) * gamma
        return h.mean(0)
    return block_jax


if __name__ == "__main__":
    main()
