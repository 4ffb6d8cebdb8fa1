"""`JITCORE_DEBUG` levels 3 and 4, and the figures the profiler reports per kernel.

Level 3 prints to stderr, after each call, a table of the kernels it ran: time, achieved GB/s
and GFLOP/s, and those as a share of the machine's limits. The limits are measured once per
machine (a copy of 64 MiB and a 1024^3 float32 GEMM through jitcore's own kernels, on all of
its threads, best of a few runs: ~1 s) and kept in the cache folder
(`machine_limits.json`); `machine_limits()` returns them. Measured while other work loads the
machine, they come out low (shares above 100%): remove the file to measure again. Level 4 also prints, after each
compile, the LLVM IR and the assembly of each kernel (`print_kernel_code`).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np

from xla_like import profile_hooks
from xla_like.backends import runtime as backend_runtime

_limits = None
_limits_lock = threading.Lock()
LIMITS_FILE = "machine_limits.json"


def by_kernel(records) -> list:
    """[(StepInfo, [its KernelRecords])] in order of first start: one entry per kernel run
    (several threads ran shares of one)."""
    groups = {}
    for r in records:
        groups.setdefault(id(r.info), (r.info, []))[1].append(r)
    return sorted(groups.values(), key=lambda g: min(r.t0 for r in g[1]))


def kernel_ns(runs) -> int:
    """A kernel's time in one call: how long some thread was running a share of it (the
    union of its shares' intervals). Not the span from the first start to the last end:
    between kernels that read only their own share's rows no barrier waits for the other
    threads, so that span can hold other kernels, or the wait for a thread that starts late
    on a loaded machine. Shares run at once count once; shares run one after another (the
    threads were not all scheduled) count each."""
    total, end = 0, None
    for r in sorted(runs, key=lambda r: r.t0):
        if end is None or r.t0 >= end:
            total += r.t1 - r.t0
            end = r.t1
        elif r.t1 > end:
            total += r.t1 - end
            end = r.t1
    return total


def kernel_figures(info, ns) -> dict:
    """A kernel's figures for the trace and the table: its cost (`plan.cost.describe_step`),
    time and what it achieved."""
    ns = max(ns, 1)
    return {"ops": list(info.ops), "inputs": list(info.inputs), "output": info.output,
            "elements": int(info.elements), "bytes": int(info.bytes_accessed),
            "flops": int(info.flops), "transcendentals": int(info.transcendentals),
            "time_us": round(ns / 1e3, 3), "GB/s": round(info.bytes_accessed / ns, 3),
            "GFLOP/s": round(info.flops / ns, 3), "kind": info.kind}


# -- the machine's limits ---------------------------------------------------------------------

def machine_limits() -> dict:
    """{"GB/s": memory bandwidth, "GFLOP/s": float32 GEMM speed, "threads": ...}, measured
    once per machine and thread count and cached in the cache folder."""
    global _limits
    from . import config
    threads = int(config.settings.num_threads or 0)
    with _limits_lock:
        if _limits is not None and _limits.get("threads_setting") == threads:
            return _limits
        path = os.path.join(profile_hooks.cache_folder(), LIMITS_FILE)
        key = f"{backend_runtime.cpu_model()}|{threads}|{os.cpu_count()}"
        stored = _read_limits(path)
        found = stored.get(key)
        if not (isinstance(found, dict) and all(
                isinstance(found.get(k), (int, float)) and found[k] > 0
                for k in ("GB/s", "GFLOP/s"))):
            found = _measure()
            stored[key] = found
            _write_limits(path, stored)
        _limits = dict(found, threads_setting=threads)
        return _limits


def _read_limits(path) -> dict:
    try:
        with open(path) as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_limits(path, data):
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass     # a read-only cache folder: measured again by the next process


def _best(fn, *args, rounds=5):
    fn(*args)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        np.asarray(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def _measure() -> dict:
    from . import config
    from .jit import jit
    with profile_hooks.untimed(), config.override(debug=0):
        x = np.ones(1 << 23, np.float64)             # 64 MiB read, 64 MiB written
        scale = jit(lambda v: v * 3.0)
        copy_s = _best(scale, x)
        a = np.ones((1024, 1024), np.float32)
        gemm = jit(lambda p, q: p @ q)
        gemm_s = _best(gemm, a, a, rounds=6)
    return {"GB/s": round(2 * x.nbytes / copy_s / 1e9, 2),
            "GFLOP/s": round(2 * 1024 ** 3 / gemm_s / 1e9, 2), "measured": time.time()}


# -- level 3: a table per call ----------------------------------------------------------------

def print_call_table(name, records, t0, t1, file=None):
    """The level-3 table of one call (`profile_hooks.on_kernels`)."""
    file = file or sys.stderr
    limits = machine_limits()
    bw, peak = limits["GB/s"], limits["GFLOP/s"]
    rows = []
    total = 0
    for info, runs in by_kernel(records):
        ns = kernel_ns(runs)
        total += ns
        f = kernel_figures(info, ns)
        ops = ",".join(info.ops)
        rows.append((info.name[:34], (ops[:30] + "..") if len(ops) > 32 else ops,
                     info.output[:22], len(runs), f["time_us"], f["GB/s"],
                     100 * f["GB/s"] / bw, f["GFLOP/s"], 100 * f["GFLOP/s"] / peak))
    lines = [f"jitcore: call {name}: {(t1 - t0) / 1e3:.1f} us, {len(rows)} kernels "
             f"({total / 1e3:.1f} us in kernels); machine: {bw:.1f} GB/s, "
             f"{peak:.1f} GFLOP/s (f32 GEMM)",
             f"  {'kernel':<34} {'ops':<32} {'output':<22} {'thr':>3} {'us':>10} "
             f"{'GB/s':>8} {'%bw':>5} {'GFLOP/s':>8} {'%gemm':>6}"]
    for r in rows:
        lines.append(f"  {r[0]:<34} {r[1]:<32} {r[2]:<22} {r[3]:>3} {r[4]:>10.1f} "
                     f"{r[5]:>8.2f} {r[6]:>5.0f} {r[7]:>8.2f} {r[8]:>6.0f}")
    print("\n".join(lines), file=file, flush=True)


profile_hooks.on_kernels = print_call_table


# -- level 4: each kernel's code ----------------------------------------------------------------

def print_kernel_code(executable, file=None):
    """Each function's optimized LLVM IR, then its assembly (where the backend has those
    texts: "llvm" and "asm" on the CPU, "ptx" on CUDA)."""
    file = file or sys.stderr
    shown = set()
    for kind in ("llvm", "asm", "ptx"):
        try:
            text = executable.as_text(kind)
        except (ValueError, AttributeError, NotImplementedError):
            continue
        if text in shown:       # CUDA answers "asm" with its PTX
            continue
        shown.add(text)
        for fn_name, body in split_functions(text, "ptx" if ".entry" in text else kind):
            print(f"jitcore: {kind} of {fn_name}:\n{body}", file=file)
    file.flush()


def split_functions(text, kind) -> list:
    """[(function name, its text)] of an LLVM module ("define ... @name(... }"), an assembly
    listing (from a global label to the next `.size`), or PTX (`.entry`/`.func` bodies)."""
    out = []
    lines = text.splitlines()
    if kind == "llvm":
        i = 0
        while i < len(lines):
            if lines[i].startswith("define "):
                head = lines[i]
                name = head.split("@", 1)[1].split("(", 1)[0].strip('"')
                j = i
                while j < len(lines) and lines[j] != "}":
                    j += 1
                out.append((name, "\n".join(lines[i:j + 1])))
                i = j
            i += 1
        return out
    if kind == "asm":
        start, name = None, None
        for i, line in enumerate(lines):
            if start is None and line.endswith(":") and not line.startswith((".", " ", "\t")):
                start, name = i, line[:-1].strip('"')
            elif start is not None and line.lstrip().startswith(".size"):
                out.append((name, "\n".join(lines[start:i + 1])))
                start = None
        return out
    out = []
    start, name = None, None
    for i, line in enumerate(lines):
        if ".entry" in line or (".func" in line and "(" in line):
            start = i
            name = line.split("(")[0].split()[-1]
        elif start is not None and line.startswith("}"):
            out.append((name, "\n".join(lines[start:i + 1])))
            start = None
    return out
