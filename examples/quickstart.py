"""jitcore in one screen: jit a function, look at its IR, watch the cache, read an error.

Run: python examples/quickstart.py   (or `make demo`)
"""
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp


@jc.jit
def predict(params, x):
    return jnp.tanh(x @ params["w"] + params["b"]).sum(axis=-1)


def main():
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(4, 3)), "b": np.zeros(3)}
    x = rng.normal(size=(5, 4))

    print("== jit: same numbers as NumPy")
    out = predict(params, x)
    ref = np.tanh(x @ params["w"] + params["b"]).sum(axis=-1)
    print("jitcore:", out)
    print("numpy:  ", ref)
    print("max abs difference:", float(np.max(np.abs(np.asarray(out) - ref))))

    print("\n== the traced IR (make_hlo)")
    print(jc.make_hlo(predict)(params, np.ones((5, 4))))

    print("== the cache: one trace per input signature")
    for n in (5, 5, 7, 5):
        predict(params, rng.normal(size=(n, 4)))
    info = predict.cache_info()
    print(f"hits={info.hits} misses={info.misses} compiles={info.compiles} "
          f"trace={info.trace_seconds * 1e3:.2f} ms")

    print("\n== a clear error, pointing at the user's line")
    try:
        jc.jit(lambda a, b: a @ b)(np.ones((3, 4)), np.ones((5, 2)))
    except jc.errors.ShapeError as e:
        print(f"{type(e).__name__}: {e}")

    print("\n== cost of a cached call (two size-8 float32 arrays, x*y+1)")
    f = jc.jit(lambda a, b: a * b + 1)
    a = np.ones(8, np.float32)
    f(a, a)
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        f(a, a)
    t = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for _ in range(n):
        a * a + 1
    t_np = (time.perf_counter() - t0) / n
    print(f"{'':24}{'time':>10}")
    print(f"{'jitcore jit (cached)':24}{t * 1e6:>8.2f} us")
    print(f"{'numpy':24}{t_np * 1e6:>8.2f} us")


if __name__ == "__main__":
    main()
