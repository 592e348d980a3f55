"""XLand-MiniGrid's jitted CPU rollout, timed; run by ``env_throughput.py`` in JAX's own venv.

JAX and xminigrid are kept out of the project's virtualenv (they pin their own numpy, scipy
and friends), so ``env_throughput.py --jax-python /work/venvs/jax/bin/python`` runs this file
with that interpreter and reads the one JSON line it prints last. It imports nothing from the
project, so it runs without latent_gridworld installed.

Two modes, both ``N`` envs with ``GymAutoResetWrapper`` and random actions drawn up front (one
``(T, N)`` array, fixed seed, materialised before timing):

- ``scan``: the whole ``T``-step rollout inside ``jit(lax.scan)``, the observation folded
  into a checksum so XLA cannot drop it. This is XLand-MiniGrid's best case (its own
  benchmarks time this).
- ``python``: a jitted batched step called from Python ``T`` times, the observation copied to
  numpy each step, as a numpy/torch learner would consume it.

Every run starts from the same reset state with the same actions; the result is the best (the
minimum) of ``--repeats`` runs, in wall time and in process CPU time (all JAX threads).

    /work/venvs/jax/bin/python benchmarks/_xland_rollout.py --num-envs 4096 --steps 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="MiniGrid-Empty-8x8")
    p.add_argument("--num-envs", type=int, default=4096)
    p.add_argument("--steps", type=int, default=100, help="steps T per timed run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modes", nargs="+", default=["scan", "python"], choices=["scan", "python"])
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(args.env_id)
    env = GymAutoResetWrapper(env)
    n, steps = args.num_envs, args.steps
    n_actions = int(env.num_actions(params))
    keys = jax.random.split(jax.random.key(args.seed), n)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(None, 0)))
    vstep = jax.jit(jax.vmap(env.step, in_axes=(None, 0, 0)))
    ts0 = reset(params, keys)
    actions = jax.random.randint(jax.random.key(args.seed + 1), (steps, n), 0, n_actions)
    actions = jax.block_until_ready(actions)

    @jax.jit
    def rollout(ts: Any, acts: Any) -> Any:
        def body(ts: Any, a: Any) -> tuple[Any, Any]:
            ts = jax.vmap(env.step, in_axes=(None, 0, 0))(params, ts, a)
            return ts, ts.observation.astype(jnp.int32).sum()

        ts, sums = jax.lax.scan(body, ts, acts)
        return sums.sum()

    def run_scan() -> None:
        rollout(ts0, actions).block_until_ready()

    def run_python() -> None:
        ts = ts0
        for t in range(steps):
            ts = vstep(params, ts, actions[t])
            np.asarray(ts.observation)  # what a numpy/torch learner needs

    runners = {"scan": run_scan, "python": run_python}
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "xminigrid": getattr(xminigrid, "__version__", "?"),
            "devices": [str(d) for d in jax.devices()],
            "cores": os.cpu_count(),
        },
        "env_id": args.env_id,
        "num_envs": n,
        "steps": steps,
        "repeats": args.repeats,
        "modes": {},
    }
    for mode in args.modes:
        run = runners[mode]
        run()  # compile and warm up
        walls, cpus = [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        results["modes"][mode] = {
            "steps_per_s": n * steps / min(walls),
            "steps_per_cpu_s": n * steps / max(min(cpus), 1e-9),
            "best_wall_s": min(walls),
            "best_cpu_s": min(cpus),
        }
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
