"""A JAX column for the benchmark scripts, measured in a separate process.

JAX is not a dependency of the project; it lives in its own virtual environment. This module
finds a Python that has it (`BENCH_JAX_PYTHON`, else `~/.cache/jaxcmp-venv/bin/python`,
which `../shared/tools/jaxcmp` creates) and starts this same file there as a worker. The
benchmark process and the worker talk in JSON lines over the worker's stdin/stdout:

    {"op": "define", "name": ..., "source": ..., "seed": 0}   -> {"ok": true, "compile_ms": ...}
    {"op": "time", "name": ..., "calls": k}                   -> {"ok": true, "ms": best of k}
    {"op": "time", ..., "inner": m}    each of the k figures is the mean of m calls in a row
    {"op": "result", "name": ..., "path": "/tmp/.../x.npz"}   -> {"ok": true, "count": ...}

A case's source defines `inputs(seed)`, which builds the arrays with NumPy only, and
`build(seed)`, which returns `(jitted JAX function, args)`. The benchmark calls `inputs` itself
(`local_inputs`), so jitcore, NumPy and JAX see the same arrays without sending them across.
The worker compiles each case once, on `define`; `time` runs only the calls, each followed by
`block_until_ready`, so neither the pipe nor the compile is in the figure. Results travel as
.npz files, which keeps megabyte arrays out of the JSON.

Without a JAX Python, or when the worker fails, `JaxSide.available` is false, every figure is
None and the scripts print "n/a".
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading

import numpy as np

ENV_VAR = "BENCH_JAX_PYTHON"
DEFAULT_PYTHON = os.path.expanduser("~/.cache/jaxcmp-venv/bin/python")


def find_python() -> str | None:
    """The Python to run JAX with, or None. An explicit env var that is not executable counts as
    none, rather than silently falling back to another interpreter."""
    path = os.environ.get(ENV_VAR)
    if path is None:
        path = DEFAULT_PYTHON
    return path if path and os.access(path, os.X_OK) else None


def local_inputs(source: str, seed: int = 0):
    """Run a case source's `inputs(seed)` here, with only NumPy bound (its `build` is defined but
    never called, so the names JAX would bind are not needed)."""
    ns = {"np": np}
    exec(compile(source, "<case inputs>", "exec"), ns)
    return ns["inputs"](seed)


def _own_source() -> str:
    with open(os.path.abspath(__file__)) as f:
        return f.read()


class JaxSide:
    """One persistent JAX worker. Every method returns None (or False) instead of raising once
    the worker is unavailable, so a benchmark still produces its own columns."""

    def __init__(self, python: str | None = None, start_timeout: float = 180.0,
                 call_timeout: float = 900.0):
        self.python = python or find_python()
        self.version = None
        self.why = None          # why the column is n/a
        self.errors = {}         # case name -> message, for cases that failed to define
        self._defined = set()
        self._proc = None
        self._lines = queue.Queue()
        self._call_timeout = call_timeout
        self._count = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="jax_side_")
        if self.python is None:
            self.why = f"no JAX Python (set {ENV_VAR} or create {DEFAULT_PYTHON})"
            return
        self._stderr = open(os.path.join(self._tmp.name, "worker.stderr"), "w+")
        env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1")
        try:
            self._proc = subprocess.Popen(
                # The source goes in by -c, run from an empty folder: run as a script from
                # benchmarks/, the worker would import fft.py or cpu.py for library modules.
                [self.python, "-u", "-c", _own_source(), "--worker"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                text=True, env=env, cwd=self._tmp.name)
        except OSError as e:
            self.why = f"could not start {self.python}: {e}"
            return
        # A thread reads the replies so that every wait has a timeout: a worker that hangs or
        # dies makes the column n/a instead of stopping the benchmark.
        threading.Thread(target=self._read, daemon=True).start()
        hello = self._receive(start_timeout)
        if hello is None or not hello.get("ok"):
            self._fail("worker did not start", hello)
            return
        self.version = hello["jax"]

    @property
    def available(self) -> bool:
        return self._proc is not None and self.why is None

    def label(self) -> str:
        if self.available:
            return f"JAX {self.version} (CPU, x64; {self.python})"
        return f"JAX: n/a ({self.why})"

    def define(self, name: str, source: str, seed: int = 0) -> bool:
        """Send a case and compile it; False (and `errors[name]`) when JAX cannot run it."""
        reply = self._ask({"op": "define", "name": name, "source": source, "seed": seed})
        if reply is None:
            return False
        if not reply.get("ok"):
            self.errors[name] = reply.get("error", "?")
            return False
        self._defined.add(name)
        return True

    def time(self, name: str, calls: int = 1, inner: int = 1) -> float | None:
        """Best of `calls` timed calls of the compiled case, in seconds; with `inner` > 1 each
        figure is the mean over that many back-to-back calls (for calls of microseconds,
        where one clock reading per call would be mostly noise)."""
        if name not in self._defined:
            return None
        message = {"op": "time", "name": name, "calls": int(calls)}
        if inner > 1:
            message["inner"] = int(inner)
        reply = self._ask(message)
        return reply["ms"] / 1e3 if reply and reply.get("ok") else None

    def result(self, name: str) -> list | None:
        """The case's outputs (a list of arrays, one per output leaf), from its warm-up call."""
        if name not in self._defined:
            return None
        self._count += 1
        path = os.path.join(self._tmp.name, f"result{self._count}.npz")
        reply = self._ask({"op": "result", "name": name, "path": path})
        if not reply or not reply.get("ok"):
            return None
        with np.load(path) as z:
            out = [z[f"arr_{i}"] for i in range(reply["count"])]
        os.unlink(path)
        return out

    def close(self):
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the pipe --------------------------------------------------------------------------

    def _read(self):
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)           # end of file: the worker exited

    def _receive(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return {"ok": False, "error": f"no reply within {timeout:.0f} s"}
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"unreadable reply {line[:200]!r}"}

    def _ask(self, message):
        if not self.available:
            return None
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except OSError as e:
            self._fail(f"could not write to the worker: {e}", None)
            return None
        reply = self._receive(self._call_timeout)
        if reply is None or "no reply within" in str(reply.get("error", "")):
            self._fail(f"worker stopped during {message['op']} {message.get('name')!r}", reply)
            return None
        return reply

    def _fail(self, what, reply):
        detail = reply.get("error") if reply else None
        if not detail:
            self._stderr.flush()
            self._stderr.seek(0)
            tail = [ln for ln in self._stderr.read().splitlines() if ln.strip()]
            detail = tail[-1] if tail else "no message"
        self.why = f"{what}: {detail}"
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


# -- the worker: runs under the JAX Python, imports nothing from the project -------------------

def _worker():
    # Replies go to a private copy of stdout; fd 1 itself is pointed at stderr, so anything JAX
    # or XLA prints cannot corrupt the JSON stream.
    reply_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import time
    import traceback

    def send(obj):
        reply_to.write(json.dumps(obj) + "\n")
        reply_to.flush()

    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp
        from jax import lax
        jax.devices()
    except Exception as e:  # noqa: BLE001 - any import failure means "no JAX column"
        send({"ok": False, "error": f"{type(e).__name__}: {e}"})
        return
    send({"ok": True, "jax": jax.__version__})
    cases = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            op = msg["op"]
            if op == "define":
                ns = {"np": np, "jax": jax, "jnp": jnp, "lax": lax}
                exec(compile(msg["source"], f"<case {msg['name']}>", "exec"), ns)
                fn, args = ns["build"](msg["seed"])
                args = tuple(jax.device_put(a) for a in args)   # inputs resident, as in use
                t0 = time.perf_counter()
                out = jax.block_until_ready(fn(*args))          # compiles
                cases[msg["name"]] = (fn, args, out)
                send({"ok": True, "compile_ms": (time.perf_counter() - t0) * 1e3})
            elif op == "time":
                fn, args, _ = cases[msg["name"]]
                inner = int(msg.get("inner", 1))
                best = float("inf")
                for _ in range(msg["calls"]):
                    t0 = time.perf_counter()
                    for _ in range(inner):
                        jax.block_until_ready(fn(*args))
                    best = min(best, (time.perf_counter() - t0) / inner)
                send({"ok": True, "ms": best * 1e3})
            elif op == "result":
                leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(cases[msg["name"]][2])]
                np.savez(msg["path"], *leaves)
                send({"ok": True, "count": len(leaves)})
            else:
                send({"ok": False, "error": f"unknown op {op!r}"})
        except Exception as e:  # noqa: BLE001 - reported to the benchmark, which shows n/a
            send({"ok": False, "error": f"{type(e).__name__}: {e}",
                  "trace": traceback.format_exc(limit=3)})


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker()
