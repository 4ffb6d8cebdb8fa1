"""Random programs, drawn from a seed, with a bound on how far two correct backends may differ.

    prog = random_program(seed, kind="plain" | "grad" | "vmap", fragments=range(8),
                          large_fraction=0.0)
    prog.fn(*prog.inputs)          # the function (for "vmap": of one batch element)

A program groups independent *fragments* (each with its own inputs and outputs) so that one
compile checks several of them; fragment `f` of seed `s` is drawn from its own generator
`default_rng([s, f])`, so `random_program(s, kind, [f])` reproduces it alone.

A fragment is drawn step by step on example values (eager `jitcore`, i.e. the interpreter's
NumPy rules): each step is an op from `random_steps` (or `random_control_flow`) on values
already computed, kept only if valid and stable (`random_values`: every value carries a bound
on how far a correct backend may be from it). Every value no later step reads
is an output, so nothing drawn is dead code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ops.errors import JitcoreError

from . import random_control_flow as control
from .random_ops import CASTS, edge_values
from .random_steps import FAMILIES, family_weights
from .random_values import Value, evaluate, largest_value, step_error

MAX_ELEMENTS = 2048
# With `large_fraction`, some fragments work on arrays large enough for the backend's threads
# and its O3 code path (drawing them costs seconds: the default leaves them out).
LARGE_SHAPES = [(263, 301), (70001,), (3, 127, 211)]
MAX_LARGE_ELEMENTS = 1 << 18
# Small shapes, with empty and size-1 axes; a few long enough for vectorized loops and their
# remainders (odd sizes past a vector's width).
SHAPES = [(), (1,), (3,), (0,), (5,), (4, 1), (1, 3), (4, 3), (2, 4, 3), (0, 3), (3, 0),
          (3, 1, 1), (1, 1), (2, 0, 2), (37,), (9, 17), (3, 1, 35), (130,)]
DTYPES = ["float32", "float32", "float64", "float64", "float16", "int32", "int32", "int64",
          "int8", "int16", "uint8", "uint16", "uint32", "uint64", "bool", "bool"]
SMOOTH_DTYPES = ["float64", "float64", "float32", "int32"]
FLOAT64_CASTS = [c for c in CASTS if c not in ("float16", "float32")]
KINDS = ("plain", "grad", "vmap")
_BATCH_STREAM = 1 << 40      # not a fragment number


@dataclass
class Step:
    label: str
    fn: Callable
    operands: tuple
    n_outputs: int = 1
    bodies: tuple = ()      # (name, Fragment) of each branch or loop body


@dataclass
class Fragment:
    """Steps over a pool that starts with the inputs; each step appends its results."""
    n_inputs: int
    steps: list
    outputs: list

    def __call__(self, *args):
        pool = list(args)
        for s in self.steps:
            out = s.fn(*[pool[i] for i in s.operands])
            pool.extend(out if isinstance(out, tuple) else (out,))
        return tuple(pool[i] for i in self.outputs)

    def describe(self, indent="") -> list[str]:
        lines, n = [], self.n_inputs
        for s in self.steps:
            results = ", ".join(f"%{k}" for k in range(n, n + s.n_outputs))
            lines.append(f"{indent}{results} = {s.label}({', '.join(f'%{o}' for o in s.operands)})")
            for name, body in s.bodies:
                lines.append(f"{indent}  {name}:")
                lines += body.describe(indent + "    ")
            n += s.n_outputs
        lines.append(f"{indent}return {', '.join(f'%{o}' for o in self.outputs)}")
        return lines


# --- the builder -----------------------------------------------------------------------------

class _Builder:
    """Draws steps over a pool of values (the fragment's inputs, or a body's parameters)."""

    def __init__(self, rng, params, smooth, depth=0, casts=CASTS, max_elements=MAX_ELEMENTS):
        self.rng = rng
        self.casts = casts          # the dtypes `astype` steps may convert to
        self.max_elements = max_elements
        self.pool = list(params)
        self.n_params = len(params)
        self.steps = []
        self.smooth = smooth
        self.depth = depth
        self.approx = False         # whether a kept step may round differently on two backends
        names, w = family_weights(smooth)
        if depth < control.MAX_DEPTH:
            names, w = control.with_control_flow(names, w, smooth)
        self.families, self.weights = names, w / w.sum()

    def pick(self, pred=None):
        """A pool index whose value satisfies `pred`, later values likelier (so chains grow)."""
        cand = [k for k, v in enumerate(self.pool) if pred is None or pred(v)]
        if not cand:
            return None
        w = np.arange(1, len(cand) + 1, dtype=float) ** 1.5
        return cand[self.rng.choice(len(cand), p=w / w.sum())]

    def child(self, params):
        return _Builder(self.rng, params, self.smooth, self.depth + 1, self.casts,
                        self.max_elements)

    def try_step(self, label, fn, operands, approx=None, bodies=()) -> bool:
        if any(o is None for o in operands):
            return False
        vals = [self.pool[o] for o in operands]
        try:
            if largest_value(fn, [v.data[0] for v in vals]) > self.max_elements:
                return False
        except JitcoreError:
            return False
        outs, errs = [], []
        for e in range(len(self.pool[0].data)):
            args = [v.data[e] for v in vals]
            try:
                out = evaluate(fn, args)
            except JitcoreError:
                return False
            if any(o.ndim > 4 for o in out):
                return False
            err = step_error(self.rng, fn, args, [None if v.err is None else v.err[e]
                                                  for v in vals], operands, out, approx)
            if err is False:
                return False
            outs.append(out)
            errs.append(err)
        for m in range(len(outs[0])):
            per_example = [err[m] for err in errs]
            exact = all(x is None for x in per_example)
            self.approx |= not exact
            self.pool.append(Value([o[m] for o in outs], None if exact else
                                   [np.zeros(o[m].shape) if x is None else x
                                    for o, x in zip(outs, per_example)]))
        self.steps.append(Step(label, fn, tuple(operands), len(outs[0]), tuple(bodies)))
        return True

    def draw(self, n_steps):
        """Up to `n_steps` kept steps (a few draws may be rejected)."""
        kept = 0
        for _ in range(3 * n_steps):
            if kept == n_steps:
                break
            fam = self.families[self.rng.choice(len(self.families), p=self.weights)]
            draw = FAMILIES[fam][0] if fam in FAMILIES else control.FAMILIES[fam]
            i = self.pick(lambda v: v.kind == "f") if self.smooth else self.pick()
            if i is None:
                i = self.pick()
            kept += bool(draw(self, i))

    def sinks(self) -> list:
        """The values computed here that no step reads."""
        read = {o for s in self.steps for o in s.operands}
        return [k for k in range(self.n_params, len(self.pool)) if k not in read]

    def fragment(self, outputs) -> Fragment:
        return Fragment(self.n_params, self.steps, list(outputs))


# --- inputs and fragments --------------------------------------------------------------------

def random_input(rng, shape, dtype, edges: bool) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        x = rng.normal(size=shape) * 10.0 ** rng.integers(-1, 2)
    elif dtype.kind == "b":
        x = rng.random(size=shape) < 0.5
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -20), min(info.max, 20), size=shape, endpoint=True)
    x = np.asarray(x).astype(dtype)
    if edges and x.size:
        special = edge_values(dtype)
        mask = rng.random(size=shape) < 0.3
        x = np.where(mask, special[rng.integers(len(special), size=shape)], x).astype(dtype)
    layout = rng.random()
    if x.ndim >= 2 and layout < 0.1:
        x = np.asfortranarray(x)            # the same values, column-major
    elif x.ndim >= 1 and layout < 0.2:
        x = np.flip(np.flip(x).copy())      # the same values, negative strides
    return x


@dataclass
class Part:
    """One drawn fragment, with its inputs and for each output the examples' error bounds."""
    fragment: Fragment
    inputs: list            # per input: one array per example
    out_err: list           # per output: None (exact) or one bound per example
    out_values: list        # per output: one array per example (the eager results)
    in_axes: list = field(default_factory=list)   # vmap: per input, None or the batch axis
    batch: int = 1          # vmap: the batch size (0 allowed: the examples are a stand-in)
    out_weights: list = field(default_factory=list)   # grad: per output, weights in the loss
    float64_only: bool = False  # grad: no float32 or float16 value anywhere (finite differences)


def _finish_part(rng, g, params, in_axes, batch, smooth, float64_only) -> Part:
    # Every value no later step reads is an output: nothing drawn is dead code.
    outs = g.sinks() or [len(params) - 1]
    values = [g.pool[o].data for o in outs]
    weights = [rng.normal(size=v[0].shape) if v[0].dtype.kind == "f" else None for v in values]
    return Part(g.fragment(outs), [p.data for p in params], [g.pool[o].err for o in outs],
                values, in_axes, batch, weights if smooth else [], float64_only)


def _draw_part(rng, kind: str, batch: int, large_fraction: float) -> Part:
    smooth = kind == "grad"
    examples = max(batch, 1)
    edges = rng.random() < (0.2 if smooth else 0.5)
    dtypes = SMOOTH_DTYPES if smooth else DTYPES
    # Most differentiated fragments stay in float64, so that finite differences can check them.
    float64_only = smooth and rng.random() < 0.7
    if float64_only:
        dtypes = [d for d in dtypes if d != "float32"]
    n_in = int(rng.integers(1, 4))
    large = rng.random() < large_fraction and kind == "plain"
    shapes = LARGE_SHAPES if large else SHAPES
    in_axes, params = [], []
    for _ in range(n_in):
        shape = shapes[rng.integers(len(shapes))]
        dtype = dtypes[rng.integers(len(dtypes))]
        shared = kind == "vmap" and rng.random() < 0.25
        in_axes.append(None if shared else int(rng.integers(0, len(shape) + 1)))
        first = random_input(rng, shape, dtype, edges)
        data = [first] + [first if shared else random_input(rng, shape, dtype, edges)
                          for _ in range(examples - 1)]
        params.append(Value(data, None))
    if kind == "grad" and not any(p.kind == "f" for p in params):
        params[0] = Value([random_input(rng, (3,), "float64", edges)], None)
        in_axes[0] = 0
    g = _Builder(rng, params, smooth, casts=FLOAT64_CASTS if float64_only else CASTS,
                 max_elements=MAX_LARGE_ELEMENTS if large else MAX_ELEMENTS)
    g.draw(int(rng.integers(3, 10)))
    return _finish_part(rng, g, params, in_axes, batch, smooth, float64_only)


@dataclass
class Program:
    seed: int
    kind: str
    fragment_ids: tuple
    parts: list
    large_fraction: float = 0.0

    @property
    def inputs(self) -> list:
        """The arguments: for "vmap", batched along each input's axis (None: shared)."""
        out = []
        for p in self.parts:
            for data, ax in zip(p.inputs, p.in_axes):
                if self.kind != "vmap" or ax is None:
                    out.append(data[0])
                else:
                    stacked = np.stack(data[:max(p.batch, 1)], axis=ax)
                    out.append(stacked if p.batch else
                               np.take(stacked, np.array([], np.intp), axis=ax))
        return out

    @property
    def in_axes(self) -> tuple:
        return tuple(ax for p in self.parts for ax in p.in_axes)

    def fn(self, *args):
        """All fragments' outputs, each fragment on its own inputs."""
        outs, k = [], 0
        for p in self.parts:
            n = p.fragment.n_inputs
            outs.extend(p.fragment(*args[k:k + n]))
            k += n
        return tuple(outs)

    @property
    def out_err(self) -> list:
        return [e for p in self.parts for e in p.out_err]

    def describe(self) -> str:
        large = f", large_fraction={self.large_fraction}" if self.large_fraction else ""
        lines = [f"random_program({self.seed}, {self.kind!r}, "
                 f"fragments={list(self.fragment_ids)}{large})"]
        k = 0
        for f, p in zip(self.fragment_ids, self.parts):
            ins = ", ".join(f"%{i}: {d[0].dtype}{list(d[0].shape)}"
                            + (f" (batched on {ax})" if self.kind == "vmap" and ax is not None
                               else "")
                            for i, (d, ax) in enumerate(zip(p.inputs, p.in_axes)))
            lines.append(f"fragment {f} (arguments {k}..{k + len(p.inputs) - 1}): {ins}")
            lines += p.fragment.describe("  ")
            k += len(p.inputs)
        return "\n".join(lines)


def random_program(seed: int, kind: str = "plain", fragments=(0,),
                   large_fraction: float = 0.0) -> Program:
    if kind not in KINDS:
        raise ValueError(f"random_program: kind must be one of {KINDS}, got {kind!r}")
    fragments = tuple(int(f) for f in fragments)
    # One batch size for the whole program (vmap maps every fragment at once), drawn from a
    # stream of its own so that each fragment alone reproduces with it.
    batch = 1
    if kind == "vmap":
        batch = int(np.random.default_rng([seed, _BATCH_STREAM]).choice(
            [0, 1, 2, 3], p=[0.1, 0.2, 0.35, 0.35]))
    parts = [_draw_part(np.random.default_rng([seed, f]), kind, batch, large_fraction)
             for f in fragments]
    return Program(seed, kind, fragments, parts, large_fraction)


def program_from_steps(kind: str, steps, inputs) -> Program:
    """A one-fragment program of given steps `(label, fn, operand indices[, approx])` on
    `inputs` (for "vmap", each input's examples stacked on axis 0), with the error bounds a
    drawn one has."""
    rng = np.random.default_rng(0)
    batch = len(inputs[0]) if kind == "vmap" else 1
    params = [Value(list(x) if kind == "vmap" else [x], None) for x in inputs]
    g = _Builder(rng, params, kind == "grad")
    for label, fn, operands, *approx in steps:
        if not g.try_step(label, fn, operands, *approx):
            raise ValueError(f"program_from_steps: step {label} is invalid or unstable")
    float64_only = all(v.dtype != np.float32 and v.dtype != np.float16 for v in g.pool)
    part = _finish_part(rng, g, params, [0] * len(inputs), batch, kind == "grad", float64_only)
    return Program(0, kind, (0,), [part])
