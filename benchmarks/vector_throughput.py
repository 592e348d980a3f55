"""Env-steps per second: the batched vector env against Python-loop vector envs, plus SB3 PPO.

In one script, with random actions and autoreset, default world (13x13 mazes, 5x5 view):

1. ``LatentGridworldVectorEnv`` (``gym.make_vec(id, num_envs=N)``) at N = 1, 16, 256, 4096,
   ASCII and pixel (8 px tiles, 40x40x3 images).
2. Gymnasium ``SyncVectorEnv`` over the single env (``vectorization_mode="sync"``), N = 8.
3. Minigrid ``SyncVectorEnv`` x8 (``MiniGrid-Empty-8x8-v0``): its default symbolic observation,
   and 56x56 RGB (``RGBImgPartialObsWrapper``, 8 px tiles).
4. XLand-MiniGrid (JAX, CPU), if ``import xminigrid`` works: the whole rollout jitted inside
   ``lax.scan`` (observation folded into a checksum so XLA cannot drop it), and a jitted batched
   step called from Python with the observation copied to numpy, as an RL library would.
5. A cProfile of the batched env's ``step`` at N = 4096: where the time goes.
6. SB3 PPO ``learn`` throughput on ``LatentGridworldSB3VecEnv`` vs ``DummyVecEnv`` of single
   envs, and the share of wall time spent inside the env.

Every number is the median of ``--repeats`` timed runs of at least ``--min-time`` seconds.

    python benchmarks/vector_throughput.py                    # everything (about 3 minutes)
    python benchmarks/vector_throughput.py --sections vector sync --repeats 3
    python benchmarks/vector_throughput.py --json results.json
    python benchmarks/vector_throughput.py --xminigrid-path /tmp/xmg_site   # JAX kept apart
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from _machine import cpu_name

import latent_gridworld  # noqa: F401  (registers the ids)

SECTIONS = ("vector", "sync", "minigrid", "xminigrid", "profile", "sb3")
IDS = {"ascii": "LatentGridworld/ASCII-v0", "pixel": "LatentGridworld/Pixel-v0"}


def rate(
    step: Callable[[int], None], batch: int, repeats: int, min_time: float
) -> dict[str, float]:
    """Median env-steps per wall second and per CPU second of ``step(k)`` (``batch`` envs).

    On a shared, loaded machine the wall rate depends on how much CPU the process got; the
    CPU-time rate (process CPU time, all threads) is what the code does per second of CPU.
    """
    for k in range(3):  # warm up: caches, first autoresets, lazy tables
        step(k)
    wall, cpu = [], []
    k = 0
    for _ in range(repeats):
        calls, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            step(k)
            k, calls = k + 1, calls + 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time and calls >= 3:
                break
        wall.append(calls * batch / elapsed)
        cpu.append(calls * batch / max(time.process_time() - c0, 1e-9))
    return {"steps_per_s": float(np.median(wall)), "steps_per_cpu_s": float(np.median(cpu))}


def show(r: dict[str, float]) -> str:
    return f"{r['steps_per_s']:14,.0f} steps/s ({r['steps_per_cpu_s']:14,.0f} per CPU-s)"


def random_actions(n: int, seed: int = 0, count: int = 64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(count, n), dtype=np.int64)


def bench_vector(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for mode in ("ascii", "pixel"):
        for n in args.sizes:
            envs = gym.make_vec(IDS[mode], num_envs=n, vectorization_mode="vector_entry_point")
            envs.reset(seed=0)
            acts = random_actions(n)

            def step(k: int, envs: Any = envs, acts: np.ndarray = acts) -> None:
                envs.step(acts[k % len(acts)])

            r = rate(step, n, args.repeats, args.min_time)
            rows.append({"impl": "LatentGridworldVectorEnv", "obs": mode, "num_envs": n, **r})
            print(f"  batched {mode:5s} N={n:5d}: {show(r)}", flush=True)
            envs.close()
    return rows


def bench_sync(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    n = 8
    for mode in ("ascii", "pixel"):
        envs = gym.make_vec(IDS[mode], num_envs=n, vectorization_mode="sync")
        envs.reset(seed=0)
        acts = random_actions(n)

        def step(k: int, envs: Any = envs, acts: np.ndarray = acts) -> None:
            envs.step(acts[k % len(acts)])

        r = rate(step, n, args.repeats, args.min_time)
        rows.append(
            {
                "impl": "SyncVectorEnv(LatentGridworldEnv)",
                "obs": mode,
                "num_envs": n,
                **r,
            }
        )
        print(f"  SyncVectorEnv over single env {mode:5s} N={n}: {show(r)}", flush=True)
        envs.close()
    return rows


def bench_minigrid(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        import minigrid  # noqa: F401
        from minigrid.wrappers import ImgObsWrapper, RGBImgPartialObsWrapper
    except ImportError:
        print("  minigrid not installed (pip install minigrid): skipped")
        return []
    rows = []
    n = 8
    variants = {
        "symbolic": [],
        "pixel": [lambda e: ImgObsWrapper(RGBImgPartialObsWrapper(e, tile_size=8))],
    }
    for obs, wrappers in variants.items():
        envs = gym.make_vec(
            "MiniGrid-Empty-8x8-v0", num_envs=n, vectorization_mode="sync", wrappers=wrappers
        )
        envs.reset(seed=0)
        acts = np.random.default_rng(0).integers(0, 3, size=(64, n))

        def step(k: int, envs: Any = envs, acts: np.ndarray = acts) -> None:
            envs.step(acts[k % len(acts)])

        r = rate(step, n, args.repeats, args.min_time)
        rows.append(
            {
                "impl": "Minigrid SyncVectorEnv (Empty-8x8)",
                "obs": obs,
                "num_envs": n,
                **r,
            }
        )
        print(f"  Minigrid SyncVectorEnv x{n} {obs:8s}: {show(r)}", flush=True)
        envs.close()
    return rows


def bench_xminigrid(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.xminigrid_path:  # appended, so this env's numpy and friends still come first
        sys.path.append(args.xminigrid_path)
    try:
        import jax
        import xminigrid
        from xminigrid.wrappers import GymAutoResetWrapper
    except ImportError as e:
        print(f"  xminigrid not importable ({e}); pip install xminigrid to include it: skipped")
        return []
    rows = []
    env, params = xminigrid.make("MiniGrid-Empty-8x8")
    env = GymAutoResetWrapper(env)
    n_actions = env.num_actions(params)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(None, 0)))
    vstep = jax.jit(jax.vmap(env.step, in_axes=(None, 0, 0)))
    scan_len = 200

    @jax.jit
    def rollout(ts: Any, key: Any) -> tuple[Any, Any]:
        def body(carry: Any, _: Any) -> tuple[Any, Any]:
            ts, key = carry
            key, sub = jax.random.split(key)
            a = jax.random.randint(sub, (ts.step_type.shape[0],), 0, n_actions)
            ts = jax.vmap(env.step, in_axes=(None, 0, 0))(params, ts, a)
            # fold the observation into a checksum so XLA must compute it
            return (ts, key), ts.observation.astype(jax.numpy.int32).sum()

        (ts, key), sums = jax.lax.scan(body, (ts, key), None, length=scan_len)
        return ts, sums.sum()

    for n in args.xminigrid_sizes:
        keys = jax.random.split(jax.random.key(0), n)
        ts = reset(params, keys)
        key = jax.random.key(1)
        ts2, s = rollout(ts, key)  # compile
        s.block_until_ready()

        def scan_step(k: int, ts: Any = ts, key: Any = key) -> None:
            _, total = rollout(ts, jax.random.fold_in(key, k))
            total.block_until_ready()

        r = rate(scan_step, n * scan_len, args.repeats, args.min_time)
        rows.append(
            {
                "impl": "xminigrid jit(lax.scan) rollout (Empty-8x8)",
                "obs": "symbolic",
                "num_envs": n,
                **r,
            }
        )
        print(f"  xminigrid in-scan (jit) N={n:5d}: {show(r)}", flush=True)

        acts = jax.numpy.asarray(random_actions(n, count=64) % n_actions)
        state = {"ts": ts}
        vstep(params, ts, acts[0]).observation.block_until_ready()  # compile

        def py_step(k: int, acts: Any = acts, state: dict[str, Any] = state) -> None:
            state["ts"] = vstep(params, state["ts"], acts[k % 64])
            np.asarray(state["ts"].observation)  # what a numpy/torch learner needs

        r = rate(py_step, n, args.repeats, args.min_time)
        rows.append(
            {
                "impl": "xminigrid jit step called from Python (Empty-8x8)",
                "obs": "symbolic",
                "num_envs": n,
                **r,
            }
        )
        print(f"  xminigrid jit step from Python N={n:5d}: {show(r)}", flush=True)
    return rows


def bench_profile(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    n = max(args.sizes)
    for mode in ("ascii", "pixel"):
        envs = gym.make_vec(IDS[mode], num_envs=n, vectorization_mode="vector_entry_point")
        envs.reset(seed=0)
        acts = random_actions(n)
        for k in range(5):
            envs.step(acts[k])
        prof = cProfile.Profile()
        steps = 300 if mode == "ascii" else 60
        prof.enable()
        for k in range(steps):
            envs.step(acts[k % 64])
        prof.disable()
        stats = pstats.Stats(prof)
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:8]  # type: ignore[attr-defined]
        print(
            f"  profile {mode} N={n}, {steps} steps, {total / steps * 1e3:.2f} ms/step (profiled):"
        )
        shares = []
        for (file, line, func), (_cc, _nc, tt, _ct, _callers) in top:
            where = f"{os.path.basename(file)}:{line}({func})" if line else func
            print(f"    {100 * tt / total:5.1f}%  {where}")
            shares.append({"function": where, "share": tt / total})
        rows.append({"obs": mode, "num_envs": n, "ms_per_step": total / steps * 1e3, "top": shares})
        envs.close()
        if args.pyinstrument:
            try:
                from pyinstrument import Profiler
            except ImportError:
                continue
            p = Profiler(interval=0.0005)
            envs = gym.make_vec(IDS[mode], num_envs=n, vectorization_mode="vector_entry_point")
            envs.reset(seed=0)
            with p:
                for k in range(steps):
                    envs.step(acts[k % 64])
            out = io.StringIO()
            out.write(p.output_text(unicode=False, color=False, show_all=False))
            print(out.getvalue())
    return rows


def bench_sb3(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper
    except ImportError:
        print("  stable-baselines3 not installed: skipped")
        return []
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    torch.set_num_threads(1)

    class Timed(VecEnvWrapper):  # type: ignore[misc]
        """Accumulates wall time spent inside the wrapped env."""

        def __init__(self, venv: Any) -> None:
            super().__init__(venv)
            self.env_time = 0.0
            self.env_cpu = 0.0

        def reset(self) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            out = self.venv.reset()
            self.env_time += time.perf_counter() - t0
            self.env_cpu += time.process_time() - c0
            return out

        def step_wait(self) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            out = self.venv.step_wait()
            self.env_time += time.perf_counter() - t0
            self.env_cpu += time.process_time() - c0
            return out

    rows = []
    n = args.sb3_envs
    # warm up torch and SB3 once so the first timed run does not pay for it
    PPO(
        "MultiInputPolicy",
        LatentGridworldSB3VecEnv(4),
        n_steps=8,
        batch_size=32,
        n_epochs=1,
        device="cpu",
    ).learn(32)
    for mode in args.sb3_obs:
        env_id = IDS[mode]
        makers = {
            "LatentGridworldSB3VecEnv": lambda m=mode: LatentGridworldSB3VecEnv(
                num_envs=n, obs_mode=m
            ),
            "DummyVecEnv": lambda i=env_id: DummyVecEnv([lambda: gym.make(i) for _ in range(n)]),
        }
        for name, make in makers.items():
            venv = Timed(make())
            model = PPO(
                "MultiInputPolicy",
                venv,
                n_steps=args.sb3_n_steps,
                batch_size=256,
                n_epochs=args.sb3_epochs,
                seed=0,
                device="cpu",
                verbose=0,
            )
            total = n * args.sb3_n_steps * args.sb3_rollouts
            t0, c0 = time.perf_counter(), time.process_time()
            model.learn(total_timesteps=total)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            share = venv.env_time / wall
            rows.append(
                {
                    "impl": name,
                    "obs": mode,
                    "num_envs": n,
                    "timesteps": total,
                    "learn_steps_per_s": total / wall,
                    "learn_steps_per_cpu_s": total / cpu,
                    "env_share": share,
                    "env_cpu_share": venv.env_cpu / cpu,
                    "env_steps_per_s": total / venv.env_time,
                }
            )
            print(
                f"  PPO.learn {mode:5s} {name:26s} N={n}: {total / wall:8,.0f} steps/s, "
                f"env {100 * share:4.1f}% of wall time ({total / venv.env_time:,.0f} env-steps/s); "
                f"{total / cpu:8,.0f} steps per CPU-s, env {100 * venv.env_cpu / cpu:4.1f}% of CPU",
                flush=True,
            )
            venv.close()
    return rows


def machine() -> dict[str, Any]:
    cpu = cpu_name()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
    }


def print_ratios(rows: list[dict[str, Any]]) -> None:
    """Batched env over SyncVectorEnv(single env) and over Minigrid x8, wall (CPU-time)."""

    def by_obs(prefix: str) -> dict[str, dict[str, Any]]:
        return {r["obs"]: r for r in rows if r["impl"].startswith(prefix)}

    sync, mg = by_obs("SyncVectorEnv"), by_obs("Minigrid")
    print("\nratios, wall (per CPU-second), batched env / reference:")
    for r in rows:
        if r["impl"] != "LatentGridworldVectorEnv":
            continue
        parts = []
        for label, ref in (
            ("SyncVectorEnv(single env) x8", sync.get(r["obs"])),
            ("Minigrid x8", mg.get("symbolic" if r["obs"] == "ascii" else "pixel")),
        ):
            if ref:
                wall = r["steps_per_s"] / ref["steps_per_s"]
                cpu = r["steps_per_cpu_s"] / ref["steps_per_cpu_s"]
                parts.append(f"{wall:7.1f}x ({cpu:7.1f}x) {label}")
        print(f"  {r['obs']:5s} N={r['num_envs']:5d}: " + ", ".join(parts))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    p.add_argument("--sizes", nargs="+", type=int, default=[1, 16, 256, 4096])
    p.add_argument("--xminigrid-sizes", nargs="+", type=int, default=[1, 4096])
    p.add_argument(
        "--xminigrid-path",
        help="a folder with xminigrid installed (pip install --target DIR xminigrid), if it is "
        "not in this environment",
    )
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.3, help="seconds per timed run")
    p.add_argument("--pyinstrument", action="store_true", help="also print a pyinstrument tree")
    p.add_argument("--sb3-envs", type=int, default=64)
    p.add_argument("--sb3-n-steps", type=int, default=64)
    p.add_argument("--sb3-rollouts", type=int, default=3)
    p.add_argument("--sb3-epochs", type=int, default=2)
    p.add_argument("--sb3-obs", nargs="+", default=["ascii", "pixel"], choices=["ascii", "pixel"])
    p.add_argument("--json", help="write all results to this JSON file")
    args = p.parse_args(argv)

    info = machine()
    print(f"machine: {info}")
    results: dict[str, Any] = {"machine": info, "args": vars(args)}
    runners = {
        "vector": bench_vector,
        "sync": bench_sync,
        "minigrid": bench_minigrid,
        "xminigrid": bench_xminigrid,
        "profile": bench_profile,
        "sb3": bench_sb3,
    }
    for section in args.sections:
        print(f"\n[{section}]", flush=True)
        results[section] = runners[section](args)
    steps = [r for s in ("vector", "sync", "minigrid", "xminigrid") for r in results.get(s, [])]
    if steps:
        print_ratios(steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return results


if __name__ == "__main__":
    main()
