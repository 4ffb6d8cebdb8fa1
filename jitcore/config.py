"""jitcore's settings: one table, read from `JITCORE_*` environment variables, changeable in code.

    JITCORE_BACKEND=interp python train.py
    with jitcore.config.override(debug=1): f(x)

| setting       | env var                 | default | meaning                                            |
|---------------|-------------------------|---------|----------------------------------------------------|
| backend       | JITCORE_BACKEND         | cpu     | backend `jit` compiles for: cpu, cuda or interp    |
| debug         | JITCORE_DEBUG           | 0       | 1: a line per compile (function, signature, ms per stage); 2: also the optimized IR |
| dump          | JITCORE_DUMP            | ""      | folder: per compile, numbered files of the IR after every pass (both pipelines, in order), then the LLVM IR and assembly |
| print_after   | JITCORE_PRINT_AFTER     | ""      | pass names (comma-separated, or a tuple in code; `all` for every pass): print the IR after them to stdout at each compile |
| num_threads   | JITCORE_NUM_THREADS     | cores   | threads the CPU backend splits large kernels over  |
| blas_coretype | JITCORE_BLAS_CORETYPE   | auto    | OpenBLAS kernel family for dots (e.g. SKYLAKEX, HASWELL) |
| explain_cache_misses | JITCORE_EXPLAIN_CACHE_MISSES | 0 | 1: at each compile, print why the call missed the cache (what changed) |
| auto_dynamic  | JITCORE_AUTO_DYNAMIC    | 3       | after this many distinct sizes on one axis of one argument (nothing else changed), `jit` makes that axis dynamic (bucketed); 0: never |
| cache         | JITCORE_CACHE           | 1       | 0: no persistent compilation cache (in-memory caches stay) |
| cache_dir     | JITCORE_CACHE_DIR       | ""      | its folder; "" is $XDG_CACHE_HOME/jitcore or ~/.cache/jitcore |
| cache_max_bytes | JITCORE_CACHE_MAX_BYTES | 1 GiB | size cap; least recently used files go first      |
| (cuda backend) | JITCORE_CUDA_ARCH      | the GPU's, else sm_80 | compute capability the CUDA backend compiles for (sm_86, 86 or 8.6); read at each compile, not a setting here |
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, fields


@dataclass
class Settings:
    backend: str = "cpu"
    debug: int = 0
    dump: str = ""
    print_after: str = ""
    num_threads: int = 0
    blas_coretype: str = ""
    explain_cache_misses: int = 0
    auto_dynamic: int = 3
    cache: int = 1
    cache_dir: str = ""
    cache_max_bytes: int = 1 << 30


ENV = {"backend": "JITCORE_BACKEND", "debug": "JITCORE_DEBUG", "dump": "JITCORE_DUMP",
       "print_after": "JITCORE_PRINT_AFTER",
       "num_threads": "JITCORE_NUM_THREADS", "blas_coretype": "JITCORE_BLAS_CORETYPE",
       "explain_cache_misses": "JITCORE_EXPLAIN_CACHE_MISSES",
       "auto_dynamic": "JITCORE_AUTO_DYNAMIC", "cache": "JITCORE_CACHE", "cache_dir": "JITCORE_CACHE_DIR",
       "cache_max_bytes": "JITCORE_CACHE_MAX_BYTES"}


def _from_env() -> Settings:
    s = Settings()
    for f in fields(Settings):
        raw = os.environ.get(ENV[f.name])
        if raw is None or raw == "":
            continue
        setattr(s, f.name, int(raw) if f.type in (int, "int") else raw)
    return s


settings = _from_env()


@contextlib.contextmanager
def override(**changes):
    """Change settings inside a `with` block (e.g. `override(backend="interp", debug=1)`)."""
    unknown = set(changes) - {f.name for f in fields(Settings)}
    if unknown:
        raise ValueError(f"unknown jitcore settings {sorted(unknown)}; known: "
                         f"{[f.name for f in fields(Settings)]}")
    old = {k: getattr(settings, k) for k in changes}
    for k, v in changes.items():
        setattr(settings, k, v)
    try:
        yield settings
    finally:
        for k, v in old.items():
            setattr(settings, k, v)
