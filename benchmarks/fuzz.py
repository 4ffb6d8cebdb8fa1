"""Differential fuzzing: random programs on the CPU backend against the reference interpreter.

    python benchmarks/fuzz.py [--n 10000] [--seed 0] [--minutes 40] [--group 4] [--jobs 1]
                              [--memory-gb 8]

Runs `--n` random programs (`jitcore.testing.random_programs`: elementwise math on edge values,
reductions, data movement, gathers and scatters, cond/switch/fori/while/scan; a quarter of
them differentiated with `grad`, a quarter mapped with `vmap`, 3% of the plain ones on arrays
of ~1e5 elements, where kernels run on threads) and checks each with
`jitcore.testing.differential.check`. Program `k` is fragment `k % group` of seed
`seed + k // group`, of kind plain, vmap, plain, grad by that seed modulo 4: `--group`
programs are compiled as one module.

Batches run in child processes (each limited to `--memory-gb` of address space), so a crash (a
segfault in generated code, an abort in LLVM) is counted, the crashing module's programs are
retried one by one to name the culprit, and the run goes on; it stops early if workers keep
dying (a broken checkout). Compiles go to a fresh cache folder, removed at the end. Prints one table (programs,
modules, mismatches, errors (an exception from tracing, a pass or the backend), crashes,
failures of the generator itself, programs per second) and, for every failure, a reproducer:
the `random_program(...)` call, the message, the program's steps and its IR.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

KINDS_BY_SEED = ("plain", "vmap", "plain", "grad")
LARGE_FRACTION = 0.03   # plain programs on arrays large enough for threads and O3 code
BATCH = 100          # modules per child process: bounds what a long-lived process accumulates


def kind_of(seed: int) -> str:
    return KINDS_BY_SEED[seed % len(KINDS_BY_SEED)]


# --- the child: checks modules and reports one JSON line per event --------------------------

def _emit(**record):
    print(json.dumps(record), flush=True)


def _run_one(seed, kind, fragments):
    """('ok' | 'mismatch' | 'error' | 'generator', message)."""
    from jitcore.testing.differential import Mismatch, check
    from jitcore.testing.random_programs import random_program
    try:
        program = random_program(seed, kind, fragments, LARGE_FRACTION)
    except Exception as e:  # the generator's own failure: reported apart from jitcore's
        return "generator", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-6)}"
    try:
        check(program)
        return "ok", ""
    except Mismatch as e:
        return "mismatch", str(e)
    except Exception as e:  # any other failure of tracing, passes or the backend is a finding
        return "error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-6)}"


def worker(seed, count, group, fragments=None, memory_gb=None):
    if memory_gb:
        # A runaway allocation raises MemoryError here instead of waking the OOM killer,
        # which may pick any process on the machine.
        limit = int(memory_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # Import before the first program: a broken checkout fails here, not as a "crash".
    import jitcore.testing.differential  # noqa: F401
    for s in range(seed, seed + count):
        kind = kind_of(s)
        frags = list(range(group)) if fragments is None else fragments
        _emit(start=s)
        result, message = _run_one(s, kind, frags)
        bad = []
        if result != "ok":
            # Which fragments fail alone (a failure may also need two together: then all).
            for f in frags:
                _emit(start=s, fragment=f)
                r, m = _run_one(s, kind, [f]) if len(frags) > 1 else (result, message)
                if r != "ok":
                    bad.append({"fragment": f, "result": r, "message": m})
            bad = bad or [{"fragment": frags, "result": result, "message": message}]
        _emit(done=s, kind=kind, fragments=len(frags), result=result, failures=bad)


# --- the parent: runs children, counts, reports ---------------------------------------------

class _Child:
    """A worker process; its stderr goes to a file, whose end explains a crash."""

    def __init__(self, args, env):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker"] + [str(a) for a in args]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                     env=env)

    def records(self):
        for line in self.proc.stdout:
            yield json.loads(line)

    def finish(self):
        """(exit status, last lines of stderr)."""
        self.proc.wait()
        self.stderr.seek(0)
        tail = self.stderr.read().strip().splitlines()[-5:]
        self.stderr.close()
        return self.proc.returncode, "\n".join(tail)

    def kill(self):
        self.proc.kill()
        self.finish()


def _describe(seed, kind, fragments):
    """Steps and IR text of a program, made in this process (tracing only: never crashes)."""
    from jitcore.testing.differential import ir_text
    from jitcore.testing.random_programs import random_program
    try:
        prog = random_program(seed, kind, fragments, LARGE_FRACTION)
    except Exception as e:  # noqa: BLE001 - reported by the run already
        return f"(the generator failed: {type(e).__name__}: {e})", ""
    try:
        ir = ir_text(prog)
    except Exception as e:  # noqa: BLE001 - the reproducer says what happened instead
        ir = f"(tracing failed: {type(e).__name__}: {e})"
    return prog.describe(), ir


def _crash_culprits(seed, group, launch):
    """Fragments of a crashing module that crash alone (each in its own process)."""
    culprits = []
    for f in range(group):
        child = launch(["--seed", seed, "--count", 1, "--group", group, "--fragments", f])
        done = any("done" in rec for rec in child.records())
        status, _ = child.finish()
        if status != 0 or not done:
            culprits.append(f)
    return culprits or list(range(group))


class Tally:
    def __init__(self):
        self.programs = self.modules = 0
        self.by_kind = {}
        self.failures = []       # (result, seed, kind, fragments, message)
        self.stopped = ""        # why the run stopped early

    def count(self, kind, n):
        self.programs += n
        self.modules += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + n

    def number(self, result):
        return sum(1 for f in self.failures if f[0] == result)


def run(opts):
    cache = tempfile.mkdtemp(prefix="jitcore-fuzz-cache-")
    env = dict(os.environ, JITCORE_CACHE_DIR=cache)

    def launch(args):
        return _Child(args + ["--memory-gb", opts.memory_gb], env)
    t0 = time.perf_counter()
    deadline = t0 + 60 * opts.minutes
    tally = Tally()
    n_modules = -(-opts.n // opts.group)
    next_seed, last_seed = opts.seed, opts.seed + n_modules
    running, crashed_in_a_row = [], 0
    try:
        while (next_seed < last_seed or running) and time.perf_counter() < deadline:
            while len(running) < opts.jobs and next_seed < last_seed:
                count = min(BATCH, last_seed - next_seed)
                running.append(launch(["--seed", next_seed, "--count", count, "--group",
                                       opts.group]))
                next_seed += count
            child = running.pop(0)
            in_flight, started = None, False
            for rec in child.records():
                started = True
                if "start" in rec:
                    in_flight = rec["start"]
                    continue
                in_flight, crashed_in_a_row = None, 0
                tally.count(rec["kind"], rec["fragments"])
                for bad in rec["failures"]:
                    tally.failures.append((bad["result"], rec["done"], rec["kind"],
                                           bad["fragment"], bad["message"]))
                    _announce(tally.failures[-1])
                _progress(tally, t0, opts.n)
                if time.perf_counter() > deadline:
                    child.proc.kill()
                    break
            status, stderr = child.finish()
            if not started and status != 0:
                tally.stopped = (f"a worker failed before its first program (exit status "
                                 f"{status}):\n{stderr}")
                break
            if in_flight is not None and time.perf_counter() <= deadline:
                # The child died inside a module: count it, name the fragments, go on after it.
                crashed_in_a_row += 1
                if crashed_in_a_row > 3:
                    tally.stopped = f"workers keep dying (the checkout may be broken):\n{stderr}"
                    break
                kind = kind_of(in_flight)
                tally.count(kind, opts.group)
                how = (f"killed by {signal.Signals(-status).name}" if status < 0 else
                       f"exit status {status}")
                for f in _crash_culprits(in_flight, opts.group, launch):
                    tally.failures.append(("crash", in_flight, kind, f,
                                           f"the process died ({how})\n{stderr}"))
                    _announce(tally.failures[-1])
                if in_flight + 1 < next_seed:
                    running.insert(0, launch(["--seed", in_flight + 1, "--count",
                                              next_seed - in_flight - 1, "--group",
                                              opts.group]))
    finally:
        for child in running:
            child.kill()
        shutil.rmtree(cache, ignore_errors=True)
    _report(tally, time.perf_counter() - t0, opts)
    return 1 if tally.failures or tally.stopped else 0


def _progress(tally, t0, n):
    if sys.stderr.isatty() or tally.modules % 25 == 0:
        dt = time.perf_counter() - t0
        print(f"  {tally.programs}/{n} programs, {len(tally.failures)} failures, "
              f"{tally.programs / dt:.1f} programs/s", file=sys.stderr, flush=True)


def _announce(failure):
    result, seed, kind, frag, message = failure
    print(f"{result}: random_program({seed}, {kind!r}, fragments={frag}, "
          f"large_fraction={LARGE_FRACTION}): "
          f"{message.splitlines()[0] if message else ''}", file=sys.stderr, flush=True)


def _report(tally, seconds, opts):
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(tally.by_kind.items()))
    print(f"\nfuzz: CPU backend against the interpreter (seed {opts.seed}, group {opts.group})")
    print(f"{'programs':<28}{tally.programs:>10}   ({kinds})")
    print(f"{'modules compiled':<28}{tally.modules:>10}")
    for result, title in (("mismatch", "mismatches"), ("error", "errors"), ("crash", "crashes"),
                          ("generator", "generator failures")):
        print(f"{title:<28}{tally.number(result):>10}")
    print(f"{'seconds':<28}{seconds:>10.1f}")
    print(f"{'programs per second':<28}{tally.programs / max(seconds, 1e-9):>10.2f}")
    if tally.stopped:
        print(f"stopped early: {tally.stopped}")
    for result, seed, kind, frag, message in tally.failures:
        frags = frag if isinstance(frag, list) else [frag]
        print(f"\n=== {result}: random_program({seed}, {kind!r}, fragments={frags}, "
              f"large_fraction={LARGE_FRACTION})")
        print(message.rstrip())
        steps, ir = _describe(seed, kind, frags)
        print("--- steps\n" + steps + "\n--- IR\n" + ir.rstrip())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="programs to run")
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--minutes", type=float, default=40.0, help="time budget")
    ap.add_argument("--group", type=int, default=4, help="programs compiled as one module")
    ap.add_argument("--jobs", type=int, default=1, help="child processes at once")
    ap.add_argument("--memory-gb", type=float, default=8.0,
                    help="address-space limit of each child process")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--fragments", type=int, nargs="*", default=None, help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.worker:
        worker(opts.seed, opts.count, opts.group, opts.fragments, opts.memory_gb)
        return 0
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())
