"""lax.map with batch_size: vmapped blocks in a loop, the remainder vmapped once (JAX's)."""
from __future__ import annotations

import numpy as np

import jitcore as jax
import jitcore.numpy as jnp
from jitcore import lax


def test_map_batch_size_matches_a_loop():
    xs = np.arange(14.0).reshape(7, 2)
    want = np.stack([np.sin(x) * x.sum() for x in xs])
    for bs in (None, 1, 3, 7, 10):
        got = jax.jit(lambda v: lax.map(lambda x: jnp.sin(x) * x.sum(), v, batch_size=bs))(xs)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    pair = lax.map(lambda t: (t[0] * 2, t[1] + 1), (xs[:, 0], xs[:, 1]), batch_size=2)
    np.testing.assert_allclose(np.asarray(pair[0]), xs[:, 0] * 2)
    np.testing.assert_allclose(np.asarray(pair[1]), xs[:, 1] + 1)
