"""Fourier transforms under `jitcore.jit` against NumPy's pocketfft, measured side by side.

    python benchmarks/fft.py [--rounds 15]

Cases: fft of 2**20 complex128 values, rfft of 2**20 float64 values, fft2 of a 1024 x 1024
complex128 array, and `convolve` of 2**20 float64 values with 16 taps (the direct sum) and with
4096 taps (by FFT). Each round times jitcore and NumPy once each, alternating, so both see the
same machine state; the table shows the median and the range over rounds, and the ratio of
medians (jitcore / NumPy: above 1 means slower). The CPU model is read from /proc/cpuinfo.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

import jitcore
import jitcore.numpy as jnp


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _once(fn, args):
    t0 = time.perf_counter()
    out = fn(*args)
    np.asarray(out)             # jitcore results are ready when converted
    return time.perf_counter() - t0


def measure(ours, theirs, args, rounds):
    """Interleaved rounds: (our times, their times)."""
    ours(*args), theirs(*args)  # compile and warm both
    a, b = [], []
    for _ in range(rounds):
        a.append(_once(ours, args))
        b.append(_once(theirs, args))
    return a, b


def cases():
    rng = np.random.default_rng(0)
    n = 2 ** 20
    z = rng.normal(size=n) + 1j * rng.normal(size=n)
    r = rng.normal(size=n)
    z2 = rng.normal(size=(1024, 1024)) + 1j * rng.normal(size=(1024, 1024))
    short, long_ = rng.normal(size=16), rng.normal(size=4096)
    return [
        ("fft 2^20 c128", jitcore.jit(jnp.fft.fft), np.fft.fft, (z,)),
        ("rfft 2^20 f64", jitcore.jit(jnp.fft.rfft), np.fft.rfft, (r,)),
        ("fft2 1024x1024 c128", jitcore.jit(jnp.fft.fft2), np.fft.fft2, (z2,)),
        ("convolve 2^20 x 16", jitcore.jit(jnp.convolve), np.convolve, (r, short)),
        ("convolve 2^20 x 4096", jitcore.jit(jnp.convolve), np.convolve, (r, long_)),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--skip-long-convolve", action="store_true",
                    help="NumPy's direct 2^20 x 4096 convolution takes seconds per round")
    args = ap.parse_args()
    print(f"CPU: {cpu_model()}; NumPy {np.__version__}; {args.rounds} interleaved rounds")
    head = f"{'case':24}{'jitcore ms (range)':>26}{'numpy ms (range)':>26}{'ratio':>8}"
    print(head)
    print("-" * len(head))
    for name, ours, theirs, xs in cases():
        if args.skip_long_convolve and name.endswith("4096"):
            continue
        rounds = args.rounds if not name.endswith("4096") else max(3, args.rounds // 5)
        a, b = measure(ours, theirs, xs, rounds)
        ma, mb = statistics.median(a), statistics.median(b)

        def cell(m, ts):
            return f"{m * 1e3:9.2f} ({min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f})"
        print(f"{name:24}{cell(ma, a):>26}{cell(mb, b):>26}{ma / mb:>7.2f}x")


if __name__ == "__main__":
    main()
