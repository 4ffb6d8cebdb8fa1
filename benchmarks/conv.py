"""Convolutions and pooling under `jitcore.jit`, side by side with JAX.

    python benchmarks/conv.py [--rounds 15] [--calls 3] [--markdown FILE]

Cases, all float32, NHWC activations and HWIO kernels, SAME padding, stride 1 (a ResNet
stage-1 layer: batch 8, 56 x 56, 64 channels):

- conv 3x3 64->64, forward: `lax.conv_general_dilated`, 1.85 GFLOP (2 per multiply-add);
- the same, forward + backward: `value_and_grad` of the sum of the output with respect to the
  input and the kernel, so the forward convolution and the two gradient convolutions (3 x the
  forward's FLOPs);
- depthwise conv 3x3 (`feature_group_count=64`, kernel 3x3x1x64), forward;
- max-pool 2x2 stride 2 (`lax.reduce_window` with `lax.max` and -inf, VALID), forward.

The depthwise convolution and the pool do little arithmetic per byte, so for them the table
gives GB/s = (input + output + kernel bytes) / time, and that as a fraction of the memory
bandwidth measured in the same run by a 256 MiB `np.copyto` (one read and one write per byte,
single-threaded NumPy; arrays of a few MB may sit partly in cache, so the fraction can pass 1).

JAX (CPU, its own process: `jax_side.py`) runs the same computation on the same inputs. Each
round times every case on both sides, one after the other (best of `--calls` calls each), so
a slow spell of the machine hits both; the table shows medians over rounds with their ranges,
and the ratio of medians jitcore / JAX (below 1: jitcore faster). Once per case, jitcore's
answer is checked against a NumPy float64 reference built from shifted slices, and JAX's
against jitcore's; mismatches are printed under the table. Without a JAX Python the JAX
column says n/a.
"""
from __future__ import annotations

import argparse
import datetime
import statistics
import time

import numpy as np

import jitcore
from jitcore import lax, tree_util

import jax_side
from machine import cpu_model

N, H, W, C = 8, 56, 56, 64
DN = ("NHWC", "HWIO", "NHWC")
FWD_FLOP = 2 * N * H * W * C * C * 9
COPY_BYTES = 256 << 20




# Inputs as source: this process and the JAX worker both run `inputs`, so they see the same arrays.
INPUTS = f"""
N, H, W, C = {N}, {H}, {W}, {C}
DN = {DN!r}

def inputs(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, H, W, C)).astype(np.float32)
    w = (rng.normal(size=(3, 3, C, C)) / np.sqrt(9 * C)).astype(np.float32)
    dw = (rng.normal(size=(3, 3, 1, C)) / 3).astype(np.float32)
    return dict(x=x, w=w, dw=dw)
"""

# The computations, written once against the shared `lax` API: the benchmark binds jitcore's
# `lax` and `value_and_grad`, the JAX worker JAX's.
FUNCTIONS = """
def conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN)

def conv_fwd_bwd(x, w):
    return value_and_grad(lambda x, w: conv(x, w).sum(), argnums=(0, 1))(x, w)

def depthwise(x, dw):
    return lax.conv_general_dilated(x, dw, (1, 1), "SAME", dimension_numbers=DN,
                                    feature_group_count=C)

def max_pool(x):
    return lax.reduce_window(x, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
"""

CASES = [  # name, function, argument names
    ("conv3x3 64->64 fwd", "conv", ("x", "w")),
    ("conv3x3 64->64 fwd+bwd", "conv_fwd_bwd", ("x", "w")),
    ("depthwise3x3 x64 fwd", "depthwise", ("x", "dw")),
    ("maxpool 2x2/2", "max_pool", ("x",)),
]


def jax_source(fn, keys):
    return INPUTS + FUNCTIONS + (
        "value_and_grad = jax.value_and_grad\n"
        f"def build(seed):\n    d = inputs(seed)\n"
        f"    return jax.jit({fn}), tuple(d[k] for k in {keys!r})\n")


def jitcore_functions():
    ns = {"np": np, "lax": lax, "value_and_grad": jitcore.value_and_grad}
    exec(compile(INPUTS + FUNCTIONS, "<conv cases>", "exec"), ns)
    return {name: jitcore.jit(ns[fn]) for name, fn, _ in CASES}


# -- NumPy float64 references, from shifted slices of the padded input ----------------------------

def _shifts(x):
    """(i, j, the input shifted by (i - 1, j - 1)) for the 9 taps of a SAME 3x3 window."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return [(i, j, p[:, i:i + H, j:j + W, :]) for i in range(3) for j in range(3)]


def reference(name, d):
    x = d["x"].astype(np.float64)
    if name.startswith("conv"):
        w = d["w"].astype(np.float64)
        y = sum(s @ w[i, j] for i, j, s in _shifts(x))
        if name.endswith("fwd"):
            return [y]
        # d(sum y)/dx[a, b, c] = sum over the taps (i, j) whose output pixel (a + 1 - i,
        # b + 1 - j) is inside the image of sum_o w[i, j, c, o]; d(sum y)/dw[i, j, c, o] is
        # the sum of channel c of the input shifted by tap (i, j), the same for every o.
        r = np.arange(H)
        inside = [(r + 1 - i >= 0) & (r + 1 - i < H) for i in range(3)]
        dx = sum(np.outer(inside[i], inside[j])[:, :, None] * w[i, j].sum(1)
                 for i in range(3) for j in range(3))
        dx = np.broadcast_to(dx, x.shape)
        dw = np.stack([s.sum((0, 1, 2)) for _, _, s in _shifts(x)]).reshape(3, 3, C, 1)
        return [y.sum(), dx, np.broadcast_to(dw, (3, 3, C, C))]
    if name.startswith("depthwise"):
        dw = d["dw"].astype(np.float64)
        return [sum(s * dw[i, j, 0] for i, j, s in _shifts(x))]
    return [x.reshape(N, H // 2, 2, W // 2, 2, C).max((2, 4))]


def close(got, want, rtol=1e-4):
    """Agreement to float32 rounding of sums of a few hundred terms, scaled to the largest
    value (a convolution's error grows with its magnitudes, not with each element)."""
    got = [np.asarray(g, np.float64) for g in got]
    return len(got) == len(want) and all(
        g.shape == np.shape(r) and np.allclose(g, r, rtol=rtol, atol=rtol * np.abs(r).max())
        for g, r in zip(got, want))


# -- timing -------------------------------------------------------------------------------------

def _leaves(out):
    return [np.asarray(leaf) for leaf in tree_util.tree_leaves(out)]


def best_of(fn, args, calls):
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        _leaves(fn(*args))          # jitcore's results are ready once converted
        best = min(best, time.perf_counter() - t0)
    return best


def copy_bandwidth(repeats=5):
    """Bytes per second of a large np.copyto: one read and one write of each byte."""
    src = np.ones(COPY_BYTES // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)             # touch the pages first
    best = min(_timed(np.copyto, dst, src) for _ in range(repeats))
    return 2 * COPY_BYTES / best


def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def moved_bytes(name, d):
    """Input + output + kernel bytes of the memory-bound cases, else None."""
    if name.startswith("depthwise"):
        return 2 * d["x"].nbytes + d["dw"].nbytes
    if name.startswith("maxpool"):
        return d["x"].nbytes + d["x"].nbytes // 4
    return None


def flops(name):
    return {"conv3x3 64->64 fwd": FWD_FLOP, "conv3x3 64->64 fwd+bwd": 3 * FWD_FLOP}.get(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=3, help="calls per round; the best counts")
    ap.add_argument("--markdown", help="also write the table and its settings to this file")
    args = ap.parse_args()

    d = jax_side.local_inputs(INPUTS, 0)
    ours = jitcore_functions()
    side = jax_side.JaxSide()
    notes, compile_s = [], {}
    for name, fn, keys in CASES:
        xs = tuple(d[k] for k in keys)
        t0 = time.perf_counter()
        got = _leaves(ours[name](*xs))
        compile_s[name] = time.perf_counter() - t0
        if not close(got, reference(name, d)):
            notes.append(f"warning: jitcore's '{name}' differs from the NumPy float64 reference")
        if not side.define(name, jax_source(fn, keys)) and side.available:
            notes.append(f"JAX could not run '{name}': {side.errors.get(name)}")
        theirs = side.result(name)
        if theirs is not None and not close(theirs, [g.astype(np.float64) for g in got]):
            notes.append(f"warning: JAX's '{name}' differs from jitcore's")

    bandwidth, times = [], {name: ([], []) for name, _, _ in CASES}
    for _ in range(args.rounds):
        bandwidth.append(copy_bandwidth(1))
        for name, _, keys in CASES:
            xs = tuple(d[k] for k in keys)
            times[name][0].append(best_of(ours[name], xs, args.calls))
            times[name][1].append(side.time(name, args.calls))
    side.close()
    bw = statistics.median(bandwidth)

    lines = [f"CPU: {cpu_model()}; NumPy {np.__version__}; {args.rounds} interleaved rounds, "
             f"best of {args.calls} calls each",
             side.label(),
             f"memory bandwidth (np.copyto of {COPY_BYTES >> 20} MiB, read + write): "
             f"{bw / 1e9:.1f} GB/s (range {min(bandwidth) / 1e9:.1f}-{max(bandwidth) / 1e9:.1f})"]
    head = (f"{'case':24}{'jitcore ms (range)':>24}{'jax ms (range)':>24}{'vs jax':>8}"
            f"{'jitcore':>18}{'jax':>18}")
    lines += [head, "-" * len(head)]

    def cell(ts):
        m = statistics.median(ts)
        return m, f"{m * 1e3:8.2f} ({min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f})"

    def rate(name, seconds):
        if seconds is None:
            return "n/a"
        if flops(name):
            return f"{flops(name) / seconds / 1e9:.1f} GFLOP/s"
        moved = moved_bytes(name, d)
        return f"{moved / seconds / 1e9:.1f} GB/s {moved / seconds / bw:.2f}"

    for name, _, _ in CASES:
        a, c = times[name]
        ma, ours_cell = cell(a)
        if all(t is not None for t in c):
            mc, jax_cell = cell(c)
            ratio = f"{ma / mc:7.2f}x"
        else:
            mc, jax_cell, ratio = None, "n/a", "n/a"
        lines.append(f"{name:24}{ours_cell:>24}{jax_cell:>24}{ratio:>8}"
                     f"{rate(name, ma):>18}{rate(name, mc):>18}")
    lines.append("GB/s columns: (input + output + kernel bytes) / median time, then the fraction "
                 "of the np.copyto bandwidth")
    lines.append("jitcore first call (trace + compile + run), s: " + ", ".join(
        f"{name} {s:.2f}" for name, s in compile_s.items()))
    lines += notes
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(f"# Convolution and pooling benchmark\n\nCommand: `python benchmarks/conv.py "
                    f"--rounds {args.rounds} --calls {args.calls}`, "
                    f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.\n\n"
                    "```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
