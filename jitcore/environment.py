"""`jitcore.print_environment_info()`: the versions and machine a bug report needs, as
`jax.print_environment_info()` prints them: jitcore, NumPy, Python, the platform, then what
the backends run on (LLVM and the CPU's features, OpenBLAS and its kernel family, threads,
the compilation cache and its size, the GPU when one is there)."""
from __future__ import annotations

import platform
import sys

import numpy as np

from xla_like.backends import runtime as backend_runtime

from . import config


def environment_info() -> str:
    """The text `print_environment_info` prints."""
    import jitcore
    rows = [("jitcore", jitcore.__version__), ("numpy", np.__version__),
            ("python", sys.version.replace("\n", " ")),
            ("platform", platform.platform()),
            ("backend", f"{config.settings.backend} (the backend setting)")]
    rows += backend_runtime.environment_rows()
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"{label + ':':<{width}} {text}" for label, text in rows) + "\n"


def print_environment_info(return_string: bool = False):
    """Print jitcore's versions and environment (or return the text, with
    `return_string=True`), as `jax.print_environment_info` does."""
    text = environment_info()
    if return_string:
        return text
    print(text, end="")
    return None
