"""The 2-D heat equation du/dt = kappa (u_xx + u_yy) on the unit square, u = 0 on the edges,
by explicit finite differences (the 5-point stencil), written as jitcore loops.

What it shows:
- `lax.fori_loop` over the time steps: the whole simulation is one jitted call and one native
  loop, compared with the same update as a NumPy loop for the numbers and the time;
- `lax.scan` recording snapshots: each scan step runs a `fori_loop` of several time steps
  and emits the field, giving the decay of the total heat over time;
- `jitcore.grad` through the loop: the derivative of a loss on the final state with respect to
  the diffusion coefficient kappa, checked by central finite differences; then the inverse
  problem, recovering kappa from an observed final state by Gauss-Newton, whose sensitivity
  du_T/dkappa comes from one forward-mode pass (`jitcore.jvp`).

Time step: dt = 0.2 h^2 / kappa_max with kappa <= 1, so r = kappa dt / h^2 <= 0.2 (the explicit
scheme is stable for r <= 1/4). The derivative part uses a smaller grid: reverse mode through
a static `fori_loop` keeps one carry (the whole field) per step.

Run: python examples/heat_equation.py   (`--small` for a quick run)
"""
import sys
import time

import numpy as np

import jitcore as jc
import jitcore.numpy as jnp
from jitcore import lax


def initial_field(n):
    """A hot square and a Gaussian blob on an n x n grid (float64), zero on the edges."""
    s = np.linspace(0.0, 1.0, n)
    x, y = np.meshgrid(s, s, indexing="ij")
    u = np.exp(-((x - 0.65) ** 2 + (y - 0.35) ** 2) / 0.01)
    u[(np.abs(x - 0.3) < 0.12) & (np.abs(y - 0.7) < 0.12)] += 1.0
    u[0, :] = u[-1, :] = u[:, 0] = u[:, -1] = 0.0
    return u


def laplacian(u):
    """The 5-point stencil on the interior; zero on the edges (the boundary stays fixed)."""
    lap = u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]
    return jnp.pad(lap, 1)


def make_simulate(steps):
    @jc.jit
    def simulate(u0, r):
        """`steps` explicit steps u <- u + r lap(u), r = kappa dt / h^2."""
        return lax.fori_loop(0, steps, lambda i, u: u + r * laplacian(u), u0)
    return simulate


def make_snapshots(n_snapshots, steps_between):
    @jc.jit
    def snapshots(u0, r):
        def chunk(u, _):
            u = lax.fori_loop(0, steps_between, lambda i, u: u + r * laplacian(u), u)
            return u, u
        return lax.scan(chunk, u0, None, length=n_snapshots)[1]
    return snapshots


def numpy_simulate(u0, r, steps):
    """The same steps in NumPy, updating in place (no new field per step)."""
    u = u0.copy()
    lap = np.zeros_like(u)
    for _ in range(steps):
        lap[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2]
                           - 4.0 * u[1:-1, 1:-1])
        lap *= r
        u += lap
    return u


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(small=False):
    n, steps = (64, 200) if small else (256, 2000)
    n_grad, steps_grad = (32, 100) if small else (64, 400)
    h = 1.0 / (n - 1)
    dt = 0.2 * h * h
    kappa = 0.8
    r = kappa * dt / (h * h)
    u0 = initial_field(n)
    print(f"== forward: {n} x {n} grid, {steps} steps, kappa = {kappa}, r = kappa dt / h^2 = "
          f"{r:.2f}, float64")

    simulate = make_simulate(steps)
    t0 = time.perf_counter()
    u_jc = np.asarray(simulate(u0, r))
    t_first = time.perf_counter() - t0
    repeat = 3 if small else 5
    t_jc = best_of(lambda: simulate(u0, r), repeat)
    t0 = time.perf_counter()
    u_np = numpy_simulate(u0, r, steps)
    t_np = time.perf_counter() - t0
    if not small:
        t_np = min(t_np, best_of(lambda: numpy_simulate(u0, r, steps), 2))
    forward_err = float(np.max(np.abs(u_jc - u_np)))
    print(f"max |jitcore - NumPy| over the final field: {forward_err:.1e}")
    print(f"{'':30}{'time':>10}{'per step':>12}")
    print(f"{'jitcore fori_loop (jitted)':30}{t_jc * 1e3:8.1f} ms{t_jc / steps * 1e6:9.1f} us")
    print(f"{'NumPy loop':30}{t_np * 1e3:8.1f} ms{t_np / steps * 1e6:9.1f} us")
    print(f"speed-up {t_np / t_jc:.1f}x; first jitcore call (trace + compile + run) "
          f"{t_first * 1e3:.0f} ms")

    n_snap = 5
    snaps = np.asarray(make_snapshots(n_snap, steps // n_snap)(u0, r))
    snap_err = float(np.max(np.abs(snaps[-1] - u_jc)))
    print(f"\n== scan: a snapshot every {steps // n_snap} steps (last one differs from the "
          f"fori_loop result by {snap_err:.1e})")
    print(f"{'step':>8}{'max u':>10}{'total heat h^2 sum(u)':>24}")
    print(f"{0:8d}{u0.max():10.4f}{u0.sum() * h * h:24.6f}")
    for i, s in enumerate(snaps):
        print(f"{(i + 1) * (steps // n_snap):8d}{s.max():10.4f}{s.sum() * h * h:24.6f}")

    print(f"\n== derivatives through the loop: {n_grad} x {n_grad} grid, {steps_grad} steps")
    hg = 1.0 / (n_grad - 1)
    dt_g = 0.2 * hg * hg
    ug0 = initial_field(n_grad)
    simulate_g = make_simulate(steps_grad)
    kappa_true = 0.6
    observed = np.asarray(simulate_g(ug0, kappa_true * dt_g / (hg * hg)))

    def loss(kappa):
        return 0.5 * jnp.sum((simulate_g(ug0, kappa * dt_g / (hg * hg)) - observed) ** 2)
    grad_loss = jc.jit(jc.grad(loss))
    k = 0.9
    t0 = time.perf_counter()
    g = float(grad_loss(k))
    t_grad_first = time.perf_counter() - t0
    t_grad = best_of(lambda: grad_loss(k), 3)
    t_fwd = best_of(lambda: simulate_g(ug0, k * dt_g / (hg * hg)), 3)
    eps = 1e-5
    fd = (float(loss(k + eps)) - float(loss(k - eps))) / (2 * eps)
    grad_rel_err = abs(g - fd) / abs(fd)
    print(f"d loss / d kappa at kappa = {k}: grad {g:.10e}, central difference {fd:.10e}, "
          f"relative difference {grad_rel_err:.1e}")
    print(f"grad costs {t_grad * 1e3:.2f} ms, {t_grad / t_fwd:.1f}x the forward loop "
          f"({t_fwd * 1e3:.2f} ms); first call {t_grad_first * 1e3:.0f} ms with compile")

    def final_state(kappa):
        return simulate_g(ug0, kappa * dt_g / (hg * hg))
    # One jvp gives the final state and its sensitivity to kappa together.
    state_and_sensitivity = jc.jit(lambda kappa: jc.jvp(final_state, (kappa,), (1.0,)))
    print(f"inverse problem: recover kappa = {kappa_true} from the observed final state, "
          f"Gauss-Newton from kappa = {k}")
    kappas = [k]
    for it in range(6):
        u, du = state_and_sensitivity(k)
        res, du = np.asarray(u) - observed, np.asarray(du)
        k = k - float(du.ravel() @ res.ravel()) / float(du.ravel() @ du.ravel())
        kappas.append(k)
        print(f"  iteration {it + 1}: kappa = {k:.12f}  |kappa - true| = "
              f"{abs(k - kappa_true):.1e}")
    return {"forward_err": forward_err, "t_jitcore": t_jc, "t_numpy": t_np,
            "snapshots": snaps, "snap_err": snap_err, "u0": u0, "h": h,
            "grad": g, "fd": fd, "grad_rel_err": grad_rel_err, "kappas": kappas,
            "kappa_true": kappa_true}


if __name__ == "__main__":
    main(small="--small" in sys.argv[1:])
