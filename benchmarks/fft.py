"""Fourier transforms under `jitcore.jit` against NumPy's pocketfft, measured side by side.

    python benchmarks/fft.py [--rounds 15]

Cases: fft of 2**20 complex128 values, rfft of 2**20 float64 values, fft2 of a 1024 x 1024
complex128 array, and `convolve` of 2**20 float64 values with 16 taps (the direct sum) and with
4096 taps (by FFT). Each round times jitcore and NumPy once each, alternating, so both see the
same machine state; the table shows the median and the range over rounds, and the ratio of
medians (jitcore / NumPy: above 1 means slower). The CPU model is read from /proc/cpuinfo.

A JAX column (x64, CPU; `jax_side.py` runs it in a separate process) times the same
computation on the same inputs (`jnp.fft.fft`, `rfft`, `fft2`, `jnp.convolve`) in the same
rounds, right after jitcore and NumPy, with the ratio jitcore / JAX. Once per case, jitcore's
and JAX's answers are compared with NumPy's (warnings under the table). Without a JAX Python
the column says n/a.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import jitcore
import jitcore.numpy as jnp

import jax_side
from machine import cpu_model




def _once(fn, args):
    t0 = time.perf_counter()
    out = fn(*args)
    np.asarray(out)             # jitcore results are ready when converted
    return time.perf_counter() - t0


def measure(ours, theirs, args, rounds, side, name):
    """Interleaved rounds: (our times, their times, JAX's times), and the warm-up outputs."""
    first = np.asarray(ours(*args)), theirs(*args)      # compile and warm both
    a, b, c = [], [], []
    for _ in range(rounds):
        a.append(_once(ours, args))
        b.append(_once(theirs, args))
        c.append(side.time(name, 1))
    return a, b, c, first


# The inputs, as source: this process runs `inputs` for jitcore and NumPy, the JAX worker runs the
# same text, so all three sides get the same arrays.
INPUTS = """
def inputs(seed):
    rng = np.random.default_rng(seed)
    n = 2 ** 20
    z = rng.normal(size=n) + 1j * rng.normal(size=n)
    r = rng.normal(size=n)
    z2 = rng.normal(size=(1024, 1024)) + 1j * rng.normal(size=(1024, 1024))
    short, long_ = rng.normal(size=16), rng.normal(size=4096)
    return dict(z=z, r=r, z2=z2, short=short, long_=long_)
"""


def _jax_case(fn, *keys):
    """Source of `build(seed)`: the jitted JAX function and its arguments."""
    return INPUTS + (f"def build(seed):\n    d = inputs(seed)\n"
                     f"    return jax.jit({fn}), tuple(d[k] for k in {keys!r})\n")


def cases():
    d = jax_side.local_inputs(INPUTS, 0)
    z, r, z2, short, long_ = (d[k] for k in ("z", "r", "z2", "short", "long_"))
    return [
        ("fft 2^20 c128", jitcore.jit(jnp.fft.fft), np.fft.fft, (z,),
         _jax_case("jnp.fft.fft", "z")),
        ("rfft 2^20 f64", jitcore.jit(jnp.fft.rfft), np.fft.rfft, (r,),
         _jax_case("jnp.fft.rfft", "r")),
        ("fft2 1024x1024 c128", jitcore.jit(jnp.fft.fft2), np.fft.fft2, (z2,),
         _jax_case("jnp.fft.fft2", "z2")),
        ("convolve 2^20 x 16", jitcore.jit(jnp.convolve), np.convolve, (r, short),
         _jax_case("jnp.convolve", "r", "short")),
        ("convolve 2^20 x 4096", jitcore.jit(jnp.convolve), np.convolve, (r, long_),
         _jax_case("jnp.convolve", "r", "long_")),
    ]


def close_to(got, want):
    """np.allclose with the tolerance scaled to the output's size: an FFT's error grows with
    its largest value, not with each element."""
    got = np.asarray(got)
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-8,
                                                   atol=1e-8 * np.abs(want).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--skip-long-convolve", action="store_true",
                    help="NumPy's direct 2^20 x 4096 convolution takes seconds per round")
    args = ap.parse_args()
    side = jax_side.JaxSide()
    print(f"CPU: {cpu_model()}; NumPy {np.__version__}; {args.rounds} interleaved rounds")
    print(side.label())
    head = (f"{'case':24}{'jitcore ms (range)':>26}{'numpy ms (range)':>26}{'ratio':>8}"
            f"{'jax ms (range)':>26}{'vs jax':>8}")
    print(head)
    print("-" * len(head))
    notes = []
    for name, ours, theirs, xs, source in cases():
        if args.skip_long_convolve and name.endswith("4096"):
            continue
        rounds = args.rounds if not name.endswith("4096") else max(3, args.rounds // 5)
        if not side.define(name, source) and side.available:
            notes.append(f"JAX could not run '{name}': {side.errors.get(name)}")
        a, b, c, (got, want) = measure(ours, theirs, xs, rounds, side, name)
        if not close_to(got, want):
            notes.append(f"warning: jitcore's '{name}' differs from NumPy's")
        jax_out = side.result(name)
        if side.available and name not in side.errors and (
                jax_out is None or not close_to(jax_out[0], want)):
            notes.append(f"warning: JAX's '{name}' differs from NumPy's")
        ma, mb = statistics.median(a), statistics.median(b)

        def cell(m, ts):
            return f"{m * 1e3:9.2f} ({min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f})"
        # A round whose JAX call failed makes the cell n/a rather than a median of fewer.
        if all(t is not None for t in c):
            mc = statistics.median(c)
            jax_cells = f"{cell(mc, c):>26}{ma / mc:>7.2f}x"
        else:
            jax_cells = f"{'n/a':>26}{'n/a':>8}"
        print(f"{name:24}{cell(ma, a):>26}{cell(mb, b):>26}{ma / mb:>7.2f}x{jax_cells}", flush=True)
    side.close()
    for note in notes:
        print(note)

if __name__ == "__main__":
    main()
