"""Every `JITCORE_*` setting: one table, read from the environment once, changeable in code.

    JITCORE_BACKEND=interp python train.py
    with override(debug=1): f(x)     # this thread only

`settings.X` reads a setting as the calling thread sees it: its `override` blocks first, then
the process-wide value (from the environment at import, or assigned as `settings.X = v`).
Nothing else reads a `JITCORE_*` variable: a backend knob is a row here like any other, so
`override` changes it too. The table lives on this floor because the backends read it and
nothing below `jitcore/` may import `jitcore/`; `jitcore.config` re-exports it.

The README's "Settings" section is the table users read: a row per field of `Settings`, its
variable (`JITCORE_` + the name in capitals), default and meaning.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, fields


@dataclass
class Settings:
    backend: str = "cpu"              # what `jit` compiles for: cpu, cuda or interp
    debug: int = 0                    # 1: a line per compile; 2: also the optimized IR;
    # 3: a table of each call's kernels (time, GB/s, GFLOP/s); 4: also each kernel's LLVM/asm
    dump: str = ""                    # folder for the IR after every pass, LLVM IR, assembly
    print_after: str = ""             # pass names whose IR is printed at each compile
    checks: int = 0                   # 1: the IR verifier runs between passes
    num_threads: int = 0              # CPU kernel threads; 0: the cores, at most 8
    blas_coretype: str = ""           # OpenBLAS core to load; "auto": OpenBLAS's own choice
    no_vector_math: int = 0           # 1: the C math library instead of vectorized bodies
    bf16_dot: str = "auto"            # bfloat16 dots: auto, native (AVX-512 BF16), widen
    cuda_arch: str = ""               # compute capability to compile for; "": the GPU's
    cuda_cublas: int = 1              # 0: dots on GPUs never use cuBLAS
    explain_cache_misses: int = 0     # 1: say why each compile missed jit's cache
    auto_dynamic: int = 3             # distinct sizes before an axis becomes dynamic; 0: never
    cache: int = 1                    # 0: no persistent compilation cache
    cache_dir: str = ""               # its folder; "": $XDG_CACHE_HOME/jitcore
    cache_max_bytes: int = 1 << 30    # its size cap
    memory_cache_max_bytes: int = 128 << 20   # cap on machine code kept in memory for reuse
    log_compiles: int = 0             # 1: log each compile (logger "jitcore") with its reason
    progress: str = "auto"            # compile progress line on stderr: auto (a terminal), 1, 0
    progress_after_ms: int = 1000     # a compile shows the progress line once it runs this long
    autotune: int = 0                 # 1: time kernel schedules on a program's first call
    autotune_budget_s: int = 10       # the most seconds one program's schedule search takes


ENV = {f.name: "JITCORE_" + f.name.upper() for f in fields(Settings)}


def from_env(environ=None) -> Settings:
    """The table's values in `environ` (default: this process's environment); an unset or
    empty variable keeps its default."""
    environ = os.environ if environ is None else environ
    s = Settings()
    for f in fields(Settings):
        raw = environ.get(ENV[f.name])
        if raw is None or raw == "":
            continue
        setattr(s, f.name, int(raw) if f.type in (int, "int") else raw)
    return s


class _Live:
    """The settings as the current thread (or asyncio task) sees them: its `override` blocks
    over the process-wide values from the environment.

    An override changes nothing for other threads: it lives in a context variable, which a new
    thread starts without. Assigning an attribute changes the process-wide value."""

    __slots__ = ()

    def __repr__(self):
        values = ", ".join(f"{n}={getattr(self, n)!r}" for n in NAMES)
        return f"Settings({values})"


def _live_setting(name):
    # A property per setting: a read costs ~0.1 us, where `__getattr__` would cost ~0.5 us
    # on every cached jit call.
    def get(self):
        changed = _overrides.get()
        return changed[name] if name in changed else getattr(_process_wide, name)

    def set(self, value):
        setattr(_process_wide, name, value)
        for watch in WATCHERS:
            watch(name, value)
    return property(get, set)


NAMES = tuple(f.name for f in fields(Settings))
# Called as `fn(name, value)` when a setting is assigned or an `override` block sets it: the
# profiler's hooks turn per-kernel timing on for `debug` >= 3 this way, so that calls need
# not read the setting (`backends.profile_hooks`).
WATCHERS: list = []
for _name in NAMES:
    setattr(_Live, _name, _live_setting(_name))
_process_wide = from_env()
# {setting: value} of the `override` blocks active in this context (never mutated: each block
# sets a new dict and puts the old one back).
_overrides: contextvars.ContextVar[dict] = contextvars.ContextVar("jitcore_overrides",
                                                                  default={})
settings = _Live()


@contextlib.contextmanager
def override(**changes):
    """Change settings inside a `with` block (e.g. `override(backend="interp", debug=1)`), for
    this thread only."""
    unknown = set(changes) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown jitcore settings {sorted(unknown)}; known: {list(NAMES)}")
    for watch in WATCHERS:
        for name, value in changes.items():
            watch(name, value)
    token = _overrides.set({**_overrides.get(), **changes})
    try:
        yield settings
    finally:
        _overrides.reset(token)


def _host_threads() -> int:
    return int(settings.num_threads or 0)


# The NumPy steps that still run on the host (`ops.host_parallel`: complex scans, the
# interpreter's sorts) split their work over `num_threads` threads too.
from ops import host_parallel as _host_parallel  # noqa: E402

_host_parallel.thread_limit = _host_threads
