"""Peak memory of `grad` of a 32-layer tanh MLP (width 512, batch 256, float32), with and
without `checkpoint` around each layer.

Reports, for `jit(grad)`: the compiled plan's workspace bytes (the temporaries of one call,
from the CPU backend's buffer assignment) and the tracemalloc peak of one call; for eager
`grad` (no jit): the tracemalloc peak of one call (NumPy reports its buffers to tracemalloc).

    .venv/bin/python benchmarks/checkpoint_memory.py
"""
import time
import tracemalloc

import numpy as np

import jitcore as jax
import jitcore.numpy as jnp

LAYERS, WIDTH, BATCH = 32, 512, 256


BLOCK = 4   # layers per checkpointed block in the third variant (about sqrt(LAYERS))


def make_loss(remat):
    """remat: False, "layer" (checkpoint around each layer) or "block" (around each block of
    BLOCK layers: only the block inputs are saved; the backward pass recomputes the rest)."""
    def layer(h, w):
        return jnp.tanh(h @ w)

    def block(h, ws):
        for w in ws:
            h = layer(h, w)
        return h
    one = jax.checkpoint(layer) if remat == "layer" else layer
    many = jax.checkpoint(block) if remat == "block" else None

    def loss(ws, x):
        h = x
        if many is not None:
            for i in range(0, len(ws), BLOCK):
                h = many(h, ws[i:i + BLOCK])
        else:
            for w in ws:
                h = one(h, w)
        return (h * h).sum()
    return loss


def _plan_bytes(compiled):
    """The workspace of the compiled program's plan (searched through wrappers)."""
    obj, seen = compiled._entry.executable, set()
    while obj is not None and id(obj) not in seen:
        seen.add(id(obj))
        plan = getattr(obj, "plan", None)
        if plan is not None and hasattr(plan, "workspace_bytes"):
            return plan.workspace_bytes
        obj = next((getattr(obj, a) for a in ("inner", "executable", "_executable", "fn",
                                               "__wrapped__") if hasattr(obj, a)), None)
    return None


def _peak(fn, *args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    out = fn(*args)
    np.asarray(out[0])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main():
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
          for _ in range(LAYERS)]
    x = rng.standard_normal((BATCH, WIDTH)).astype(np.float32)
    act = BATCH * WIDTH * 4
    print(f"{LAYERS} layers, width {WIDTH}, batch {BATCH}, float32; one activation = "
          f"{act / 2**20:.2f} MiB, weights = {LAYERS * WIDTH * WIDTH * 4 / 2**20:.1f} MiB")
    grads = {}
    for remat in (False, "layer", "block"):
        g = jax.grad(make_loss(remat))
        jg = jax.jit(g)
        t = time.perf_counter()
        compiled = jg.lower(ws, x).compile()
        t_compile = time.perf_counter() - t
        jg(ws, x)                           # warm
        ws_bytes = _plan_bytes(compiled)
        jit_peak = _peak(jg, ws, x)
        t = time.perf_counter()
        grads[remat] = jg(ws, x)
        t_call = time.perf_counter() - t
        eager_peak = _peak(g, ws, x)
        wsb = "n/a" if ws_bytes is None else f"{ws_bytes / 2**20:8.1f} MiB"
        print(f"checkpoint={remat!s:5}: jit plan workspace {wsb}, jit call tracemalloc peak "
              f"{jit_peak / 2**20:8.1f} MiB, eager grad tracemalloc peak "
              f"{eager_peak / 2**20:8.1f} MiB (compile {t_compile:.1f}s, call {t_call*1e3:.0f}ms)")
    diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
               for mode in ("layer", "block") for a, b in zip(grads[False], grads[mode]))
    print(f"max |grad difference| = {diff:.3g}")


if __name__ == "__main__":
    main()
