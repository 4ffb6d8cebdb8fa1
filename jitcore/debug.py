"""`jitcore.debug`: look at values while a program runs (`print`, `callback`, `breakpoint`).

Each is a host callback with side effects (`ops/callbacks.py`): it runs every time the program
runs, under `jit`, once per batch element under `vmap`, with the forward values under `grad`,
every iteration inside loops, and at once when nothing is traced.
"""
from __future__ import annotations

import builtins
import string
import sys

from ops import callbacks as _cb

from .callbacks import split_arguments

__all__ = ["print", "callback", "breakpoint", "visualize_array_sharding"]


def callback(callback, *args, ordered=False, partitioned=False, **kwargs):
    """Call `callback(*args, **kwargs)` with the NumPy values of the array arguments each
    time the program runs; its return value is ignored. Returns None."""
    if not callable(callback):
        raise TypeError(f"debug.callback: expected a callable, got {type(callback).__name__}")
    operands, rebuild = split_arguments(args, kwargs)

    def run(*values):
        a, k = rebuild(values)
        callback(*a, **k)
        return ()

    _cb.host_callback(*operands, callback=_cb.register_callback(run), result_shapes=(),
                      ordered=bool(ordered))


def _check_format(fmt, args, kwargs):
    """Fail at the call, not when the program runs, if `fmt` names a missing argument."""
    auto = 0
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        key = field.split(".")[0].split("[")[0]
        if key == "":
            key, auto = auto, auto + 1
        elif key.isdigit():
            key = int(key)
        if isinstance(key, int) and key >= len(args) or \
                isinstance(key, str) and key not in kwargs:
            raise ValueError(f"debug.print: the format string {fmt!r} names the field "
                             f"{field!r}, which no argument fills")


def print(fmt: str, *args, ordered=False, **kwargs):  # noqa: A001  (JAX's name)
    """Print `fmt.format(*args, **kwargs)` with the arguments' values each time the program
    runs (`jitcore.debug.print("x = {x}", x=x)`)."""
    if not isinstance(fmt, str):
        raise TypeError(f"debug.print: the format must be a str, got {type(fmt).__name__}")
    _check_format(fmt, args, kwargs)

    def formatted(*a, **k):
        # sys.stdout looked up at run time: redirections (pytest's capture) take effect.
        builtins.print(fmt.format(*a, **k), file=sys.stdout)

    callback(formatted, *args, ordered=ordered, **kwargs)


def _pdb_backend(values):
    """Open pdb in a namespace holding the values (names from the calling frame)."""
    import pdb
    builtins.print("Entering jitcore.debug.breakpoint(); names: "
                   + ", ".join(sorted(values)), file=sys.stdout)
    pdb.Pdb().run("pass", {}, dict(values))


def breakpoint(*, backend=None, filter_frames=True, num_frames=None, ordered=None,  # noqa: A001
               **kwargs):
    """Stop when the program runs here, with the calling frame's array variables as values.

    `backend`: None or "pdb" opens pdb with those names defined; a callable is called with a
    dict {name: NumPy value} instead (for scripted or tested use)."""
    if backend not in (None, "pdb", "cli") and not callable(backend):
        raise ValueError(f"debug.breakpoint: unknown backend {backend!r}: use None, 'pdb' "
                         "or a callable taking a dict of values")
    frame = sys._getframe(1)
    names, values = [], []
    for name, value in frame.f_locals.items():
        if _is_single_array(value):
            names.append(name)
            values.append(value)
    run = backend if callable(backend) else _pdb_backend

    def stop(*vals):
        run(dict(zip(names, vals)))

    callback(stop, *values, ordered=bool(ordered))


def _is_single_array(value) -> bool:
    operands, _ = split_arguments((value,), {})
    return len(operands) == 1 and operands[0] is value


def visualize_array_sharding(arr, *, use_color=True, scale=1.0, min_width=9, max_width=80,
                             color_map=None):
    """Print the layout of `arr` over devices: one box, as every array lives on one device."""
    if getattr(arr, "ndim", None) is None:
        raise TypeError(f"visualize_array_sharding: expected an array, got "
                        f"{type(arr).__name__}")
    if arr.ndim > 2:
        raise ValueError(f"visualize_array_sharding: only 1-D and 2-D arrays can be shown, got "
                         f"an array of rank {arr.ndim}")
    if getattr(arr, "concrete", "none") is None:
        raise ValueError("visualize_array_sharding: the array is traced; call it on a "
                         "concrete array, or use jitcore.debug.inspect_array_sharding")
    device = getattr(arr, "device", None)
    device = device() if callable(device) else device
    label = (f"{device.platform.upper()} {device.id}" if device is not None and
             hasattr(device, "platform") else "CPU 0")
    width = max(min_width, len(label) + 4)
    inner = label.center(width - 2)
    builtins.print("┌" + "─" * (width - 2) + "┐", file=sys.stdout)
    builtins.print("│" + inner + "│", file=sys.stdout)
    builtins.print("└" + "─" * (width - 2) + "┘", file=sys.stdout)
