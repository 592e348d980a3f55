"""Env-steps per second through ``gym.make``: every LatentGridworld id beside its references.

In one run, on one process, with fixed seeds and uniformly random actions drawn up front:

1. **single**: the single env through ``gym.make(id)``, for every id that
   ``latent_gridworld.testing.registered_env_ids()`` lists (so new versions appear without an
   edit here), beside
   - Minigrid ``MiniGrid-Empty-8x8-v0`` through ``gym.make``: its symbolic observation, and
     the partial RGB view from ``RGBImgPartialObsWrapper`` (8 px tiles, 56x56x3);
   - a **no-op env** per id: the same observation and action spaces and the same wrappers
     ``gym.make`` adds (built from the id's own ``EnvSpec``), whose ``step`` returns a
     pre-built observation and info. It is the limit of ``gym.make`` itself: no env can be
     faster through that stack.

   The timed loop is what a user writes: ``env.step(a)``, and ``env.reset()`` when the episode
   ends (resets are included in the time).
2. **vector**: ``gym.make_vec(id, num_envs=N)`` (N = 4096 by default) for every id, beside
   XLand-MiniGrid's jitted CPU rollout (``MiniGrid-Empty-8x8``, the whole rollout inside
   ``jit(lax.scan)``, and its jitted step called from Python). JAX lives in its own virtualenv:
   ``--jax-python`` names that interpreter, which runs ``benchmarks/_xland_rollout.py``; without
   it (or if it cannot import xminigrid) the XLand rows are skipped with the reason printed.
3. **profile** (``--profile``): cProfile over ``gym.make(id)``'s ``env.step`` for every id, top
   functions by own time.

Timing: each measurement first calibrates a step count ``n`` that runs for at least
``--min-time`` seconds, then times ``--repeats`` runs of exactly those ``n`` steps, each
starting from ``reset(seed=--seed)`` with the same actions, and keeps the best (the fastest) in
wall time and, separately, in process CPU time. On a shared machine the best run is the one the
scheduler disturbed least; the CPU-time rate is what the code does per second of CPU it got.

Targets (issue 14): single env >= 5x Minigrid symbolic (ASCII ids), >= 10x Minigrid partial
RGB (pixel ids), >= 50% of the no-op limit; vector env >= 2x XLand-MiniGrid's jitted rollout.

    python benchmarks/env_throughput.py --jax-python /work/venvs/jax/bin/python
    python benchmarks/env_throughput.py --sections single --repeats 3 --profile
    python benchmarks/env_throughput.py --json results.json
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import math
import os
import platform
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from _machine import cpu_name

# measure the checkout this script lives in, not whichever one the editable install points at
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import latent_gridworld  # noqa: E402  (registers the ids)
from latent_gridworld.testing import registered_env_ids  # noqa: E402

SECTIONS = ("single", "vector")
MINIGRID_ID = "MiniGrid-Empty-8x8-v0"
MINIGRID_ACTIONS = 3  # left, right, forward: the only actions that do anything in Empty
XLAND_ID = "MiniGrid-Empty-8x8"
XLAND_HELPER = Path(__file__).with_name("_xland_rollout.py")
TARGETS = {"symbolic": 5.0, "rgb": 10.0, "noop": 0.5, "xland": 2.0}


# ---------------------------------------------------------------------------------- timing


Runner = tuple[Callable[[], None], Callable[[int], None]]


def best_of(
    runners: list[tuple[Runner, int]], repeats: int, min_time: float
) -> list[dict[str, float]]:
    """Best-of-``repeats`` env-steps per wall second and per CPU second of each runner.

    Each runner is ``((start, run), batch)``: ``start()`` (not timed) resets to the same seeded
    state, ``run(n)`` makes ``n`` calls of ``batch`` env-steps each, so every timed run does
    the same work. The seeded reset stays out of the time: at N = 4096 it is 4096 per-env
    resets, which a training run pays once, not per measurement. ``n`` is calibrated first
    (that run also warms caches and lazy tables) so one run lasts at least ``min_time``
    seconds. The timed runs go round-robin over the runners, so on a shared machine a burst
    of load hits every implementation alike and the ratios stay fair.
    """
    sizes = []
    for (start, run), _ in runners:
        n = 16
        while True:
            start()
            t0 = time.perf_counter()
            run(n)
            elapsed = time.perf_counter() - t0
            if elapsed >= min_time:
                break
            n = max(2 * n, math.ceil(n * 1.2 * min_time / max(elapsed, 1e-6)))
        sizes.append(n)
    walls: list[list[float]] = [[] for _ in runners]
    cpus: list[list[float]] = [[] for _ in runners]
    for _ in range(repeats):
        for i, ((start, run), _) in enumerate(runners):
            start()
            t0, c0 = time.perf_counter(), time.process_time()
            run(sizes[i])
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.process_time() - c0)
    return [
        {
            "steps_per_s": n * batch / min(w),
            "steps_per_cpu_s": n * batch / max(min(c), 1e-9),
            "steps_per_run": n * batch,
            "spread": max(w) / min(w),
        }
        for ((_, batch), n, w, c) in zip(runners, sizes, walls, cpus, strict=True)
    ]


class ActionBank:
    """Uniform random actions drawn once from a fixed seed and grown on demand.

    A longer bank is drawn from the same seed, so its prefix is unchanged and every run of
    ``n`` steps sees the same actions whatever ``n`` the calibration picked.
    """

    def __init__(self, n_actions: int, seed: int, shape: tuple[int, ...] = ()) -> None:
        self.n_actions, self.seed, self.shape = n_actions, seed, shape
        self.actions = np.zeros((0, *shape), dtype=np.int64)

    def get(self, n: int) -> np.ndarray:
        if len(self.actions) < n:
            size = max(n, 2 * len(self.actions))
            rng = np.random.default_rng(self.seed)
            self.actions = rng.integers(0, self.n_actions, size=(size, *self.shape))
        return self.actions[:n]


def single_runner(env: gym.Env[Any, Any], seed: int) -> Runner:
    """A user's loop over ``env``: step with the drawn actions, reset when an episode ends."""
    bank = ActionBank(int(env.action_space.n), seed)  # type: ignore[attr-defined]

    def start() -> None:
        env.reset(seed=seed)

    def run(n: int) -> None:
        step, reset = env.step, env.reset
        for a in bank.get(n):  # numpy int64 scalars, as action_space.sample() gives
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()

    return start, run


def vector_runner(envs: gym.vector.VectorEnv, seed: int) -> Runner:
    """Step all envs with the drawn action batches (autoreset inside the vector env)."""
    bank = ActionBank(int(envs.single_action_space.n), seed, (envs.num_envs,))  # type: ignore[attr-defined]

    def start() -> None:
        envs.reset(seed=seed)

    def run(n: int) -> None:
        step = envs.step
        for a in bank.get(n):
            step(a)

    return start, run


# ---------------------------------------------------------------------------------- the no-op env


class NoOpEnv(gym.Env[dict[str, Any], int]):
    """Returns a pre-built observation and info from every call: the cost of ``gym.make`` alone.

    Built from a real env's spaces, observation and info, so the wrappers (Gymnasium's passive
    checker and order enforcing) see exactly what they see from the real env. It never ends an
    episode, so the timed loop never resets it.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        obs: dict[str, Any],
        info: dict[str, Any],
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self._obs, self._info = obs, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        return self._obs, self._info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        return self._obs, 0.0, False, False, self._info


def make_noop(env_id: str, seed: int) -> gym.Env[Any, Any]:
    """``gym.make`` of a no-op env from ``env_id``'s own spec: same wrappers, same spaces."""
    real = gym.make(env_id)
    obs, info = real.reset(seed=seed)
    spec = real.spec
    assert spec is not None
    noop_spec = dataclasses.replace(
        spec,
        id=f"NoOp/{env_id.replace('/', '-')}",
        entry_point=NoOpEnv,  # type: ignore[arg-type]
        vector_entry_point=None,
        kwargs={
            "observation_space": real.observation_space,
            "action_space": real.action_space,
            "obs": obs,
            "info": info,
        },
    )
    real.close()
    return gym.make(noop_spec)


def wrapper_chain(env: gym.Env[Any, Any]) -> list[str]:
    """The wrapper classes ``gym.make`` put around the env, outermost first."""
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(type(env).__name__)
        env = env.env
    return chain


# ---------------------------------------------------------------------------------- sections


def obs_kind(env_id: str) -> str:
    """``ascii`` or ``pixel``: which Minigrid observation an id is compared with."""
    env = gym.make(env_id)
    kind = str(env.unwrapped.obs_mode)  # type: ignore[attr-defined]
    env.close()
    return kind


def bench_single(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    envs: list[gym.Env[Any, Any]] = []

    def add(name: str, obs: str, env: gym.Env[Any, Any], **extra: Any) -> None:
        rows.append({"impl": name, "obs": obs, "num_envs": 1, **extra})
        envs.append(env)

    try:
        import minigrid  # noqa: F401
        from minigrid.wrappers import RGBImgPartialObsWrapper
    except ImportError as e:
        print(f"  minigrid not importable ({e}); pip install -e '.[bench]': Minigrid rows skipped")
    else:
        add("Minigrid " + MINIGRID_ID, "symbolic 7x7x3", gym.make(MINIGRID_ID), ref="symbolic")
        add(
            "Minigrid " + MINIGRID_ID,
            "partial RGB 56x56x3",
            RGBImgPartialObsWrapper(gym.make(MINIGRID_ID), tile_size=8),
            ref="rgb",
        )
    for env_id in args.ids:
        kind = obs_kind(env_id)
        env = gym.make(env_id)
        space = env.observation_space
        key = "view" if kind == "ascii" else "image"
        obs = f"{kind} {'x'.join(map(str, space[key].shape))}"  # type: ignore[index]
        chain = wrapper_chain(env)
        add(env_id, obs, env, id=env_id, kind=kind, wrappers=chain)
        noop = make_noop(env_id, args.seed)
        if wrapper_chain(noop) != chain:
            raise RuntimeError(
                f"the no-op env's wrappers {wrapper_chain(noop)} differ from {env_id}'s {chain}"
            )
        add(f"no-op env like {env_id}", obs, noop, noop_of=env_id)
    results = best_of([(single_runner(e, args.seed), 1) for e in envs], args.repeats, args.min_time)
    for row, r, env in zip(rows, results, envs, strict=True):
        row.update(r)
        print(f"  {row['impl']:42s} {row['obs']:22s} {show(r)}", flush=True)
        env.close()
    return rows


def bench_vector(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    n = args.num_envs
    vecs = [gym.make_vec(env_id, num_envs=n) for env_id in args.ids]
    results = best_of([(vector_runner(v, args.seed), n) for v in vecs], args.repeats, args.min_time)
    for env_id, envs, r in zip(args.ids, vecs, results, strict=True):
        rows.append(
            {"impl": f"gym.make_vec({env_id})", "id": env_id, "obs": obs_kind(env_id),
             "num_envs": n, "vector_class": type(envs).__name__, **r}
        )  # fmt: skip
        print(f"  {'gym.make_vec(' + env_id + ')':42s} N={n:<20d} {show(r)}", flush=True)
        envs.close()
    rows.extend(bench_xland(args))
    return rows


def bench_xland(args: argparse.Namespace) -> list[dict[str, Any]]:
    """XLand-MiniGrid through its own interpreter; a printed reason if it cannot run."""
    if not args.jax_python:
        print("  XLand-MiniGrid skipped: no --jax-python (a python with jax and xminigrid)")
        return []
    if not Path(args.jax_python).exists():
        print(f"  XLand-MiniGrid skipped: --jax-python {args.jax_python} does not exist")
        return []
    cmd = [
        args.jax_python, str(XLAND_HELPER), "--env-id", XLAND_ID,
        "--num-envs", str(args.num_envs), "--steps", str(args.xland_steps),
        "--repeats", str(args.repeats), "--seed", str(args.seed),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.xland_timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        print(f"  XLand-MiniGrid skipped: the helper exited {proc.returncode}: {tail}")
        return []
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    names = {
        "scan": "XLand-MiniGrid jit(lax.scan) rollout",
        "python": "XLand-MiniGrid jit step called from Python",
    }
    rows = []
    for mode, r in out["modes"].items():
        rows.append(
            {"impl": names[mode], "obs": "symbolic", "num_envs": out["num_envs"],
             "xland_mode": mode, "xland_machine": out["machine"], "env_id": XLAND_ID, **r}
        )  # fmt: skip
        print(f"  {names[mode]:42s} N={out['num_envs']:<20d} {show(r)}", flush=True)
    print(f"  (XLand-MiniGrid {XLAND_ID}: {out['machine']})")
    return rows


def bench_profile(args: argparse.Namespace) -> list[dict[str, Any]]:
    """cProfile of ``gym.make(id)``'s ``env.step`` loop: where a single step's time goes."""
    rows = []
    for env_id in args.ids:
        env = gym.make(env_id)
        start, run = single_runner(env, args.seed)
        start()
        run(1000)  # warm up
        prof = cProfile.Profile()
        prof.enable()
        run(args.profile_steps)
        prof.disable()
        stats = pstats.Stats(prof)
        entries = stats.stats.items()  # type: ignore[attr-defined]
        total = sum(v[2] for _, v in entries)
        print(
            f"\n  profile {env_id}: {args.profile_steps} steps, "
            f"{total / args.profile_steps * 1e6:.1f} us/step under cProfile"
        )
        print(f"    {'own':>6s} {'incl.':>6s} {'calls/step':>10s}  function")
        top = []
        for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(
            entries, key=lambda kv: -kv[1][2]
        )[: args.profile_top]:
            where = f"{short_path(file)}:{line}({func})" if line else func
            print(
                f"    {100 * tt / total:5.1f}% {100 * ct / total:5.1f}% "
                f"{nc / args.profile_steps:10.2f}  {where}"
            )
            top.append({"function": where, "own": tt / total, "inclusive": ct / total})
        rows.append({"id": env_id, "us_per_step": total / args.profile_steps * 1e6, "top": top})
        env.close()
    return rows


def short_path(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("latent_gridworld", "gymnasium", "numpy", "minigrid"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor) - 1 :])
    return os.path.basename(file)


# ---------------------------------------------------------------------------------- report


def show(r: dict[str, float]) -> str:
    return f"{r['steps_per_s']:13,.0f} steps/s ({r['steps_per_cpu_s']:13,.0f} per CPU-s)"


def machine() -> dict[str, Any]:
    cpu = cpu_name()
    versions = {}
    for pkg in ("latent-gridworld", "numpy", "gymnasium", "minigrid"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "latent_gridworld_from": str(Path(latent_gridworld.__file__).parent),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        **versions,
    }


def ratio_lines(single: list[dict[str, Any]], vector: list[dict[str, Any]]) -> list[str]:
    """Each target as ``ratio wall (per CPU-s)`` against its threshold, met or missed."""
    lines = []

    def fmt(a: dict[str, Any], b: dict[str, Any], target: float, what: str, pct: bool) -> str:
        wall = a["steps_per_s"] / b["steps_per_s"]
        cpu = a["steps_per_cpu_s"] / b["steps_per_cpu_s"]
        if min(wall, cpu) >= target:
            ok = "met"
        elif max(wall, cpu) >= target:
            ok = "met in wall time only" if wall >= target else "met per CPU-s only"
        else:
            ok = "MISSED"
        if pct:
            share = f"{100 * wall:5.1f}% ({100 * cpu:5.1f}%)"
            return f"{share} of {what}, target >= {100 * target:.0f}%: {ok}"
        return f"{wall:6.1f}x ({cpu:6.1f}x) {what}, target >= {target:g}x: {ok}"

    refs = {r["ref"]: r for r in single if "ref" in r}
    noops = {r["noop_of"]: r for r in single if "noop_of" in r}
    for r in single:
        if "kind" not in r:
            continue
        ref_key = "symbolic" if r["kind"] == "ascii" else "rgb"
        parts = []
        if ref_key in refs:
            label = "Minigrid symbolic" if ref_key == "symbolic" else "Minigrid partial RGB"
            parts.append(fmt(r, refs[ref_key], TARGETS[ref_key], label, False))
        if r["id"] in noops:
            parts.append(fmt(r, noops[r["id"]], TARGETS["noop"], "the no-op limit", True))
        for p in parts:
            lines.append(f"  single {r['id']:26s} {p}")
    scan = next((r for r in vector if r.get("xland_mode") == "scan"), None)
    for r in vector:
        if "vector_class" in r and scan is not None:
            lines.append(
                f"  vector {r['id']:26s} "
                + fmt(r, scan, TARGETS["xland"], "XLand-MiniGrid jit(lax.scan)", False)
            )
    return lines


def markdown_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| implementation | obs | N | wall steps/s | steps per CPU-s |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['impl']} | {r['obs']} | {r['num_envs']:,} | {r['steps_per_s']:,.0f} "
            f"| {r['steps_per_cpu_s']:,.0f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    p.add_argument("--ids", nargs="+", default=registered_env_ids(), help="default: every id")
    p.add_argument("--num-envs", type=int, default=4096, help="N of the vector section")
    p.add_argument("--repeats", type=int, default=5, help="timed runs; the best is kept")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timed run (at least)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jax-python", help="a python with jax and xminigrid (e.g. its own venv)")
    p.add_argument("--xland-steps", type=int, default=100, help="rollout length per XLand run")
    p.add_argument("--xland-timeout", type=float, default=900.0)
    p.add_argument("--profile", action="store_true", help="cProfile the single env's step")
    p.add_argument("--profile-steps", type=int, default=20_000)
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--json", help="write all results to this JSON file")
    args = p.parse_args(argv)
    unknown = sorted(set(args.ids) - set(registered_env_ids()))
    if unknown:
        p.error(f"unregistered id(s) {unknown}; registered: {registered_env_ids()}")

    info = machine()
    print(f"machine: {info}")
    print(f"ids: {args.ids}; best of {args.repeats} runs of >= {args.min_time} s, seed {args.seed}")
    results: dict[str, Any] = {"machine": info, "args": vars(args)}
    runners = {"single": bench_single, "vector": bench_vector}
    for section in args.sections:
        print(f"\n[{section}]", flush=True)
        results[section] = runners[section](args)
    if args.profile:
        print("\n[profile]", flush=True)
        results["profile"] = bench_profile(args)
    lines = ratio_lines(results.get("single", []), results.get("vector", []))
    if lines:
        print("\nratios, wall (per CPU-s), against the targets of issue 14:")
        print("\n".join(lines))
    rows = results.get("single", []) + results.get("vector", [])
    if rows:
        print(f"\nload average at the end: {[round(x, 2) for x in os.getloadavg()]}")
        print("\n" + markdown_table(rows))
    results["ratios"] = lines
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
