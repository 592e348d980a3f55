"""The env contract, checked on any latent-gridworld env, wrapper stack or adapter.

``check_contract(env)`` (also importable from :mod:`latent_gridworld.testing`) asserts what
code built on the env relies on, in the style of dm_env's contract tests:

- **no aliasing**: an observation handed out is never changed by later steps, and shares no
  memory with the next observation or with the info arrays (a replay buffer may keep it);
- **every reset option** (``maze``, ``goal``, ``start``, ``icl``, ``split``, ``placement``) is
  accepted and shows in what the env returns: ``info["maze"]``, ``info["goal_type"]``,
  ``info["start"]``, ``info["icl"]``, ``info["split_id"]``, and the episode state's
  ``task.placement`` (placement is not an info key);
- **determinism**: the same seed, options and actions give the same observations, rewards
  and infos;
- **pickling**: a pickled and restored env continues exactly as the original;
- **rendering** in every mode of ``metadata["render_modes"]`` (``human`` only where pygame
  imports), with the right type: an RGB ``uint8`` array, a ``str``, or ``None``;
- for the batched env (:class:`~latent_gridworld.vector.LatentGridworldVectorEnv`) and the SB3
  adapter: each env of the batch equals a single env seeded ``seed + i``, for every reset
  option.

A failed check raises :class:`ContractError` (an ``AssertionError``) that names the check and
the option, key and step where it failed.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from latent_gridworld.core import world
from latent_gridworld.core.constants import SPLITS
from latent_gridworld.core.tasks import RESET_OPTIONS
from latent_gridworld.envs.gridworld import LatentGridworldEnv
from latent_gridworld.vector import LatentGridworldVectorEnv

# option -> (the info key that echoes it, how the option value reads in that key)
ECHO: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "maze": ("maze", int),
    "goal": ("goal_type", int),
    "start": ("start", lambda v: (int(v[0]), int(v[1]))),
    "icl": ("icl", bool),
    "split": ("split_id", SPLITS.index),
}


class ContractError(AssertionError):
    """An env broke the contract; the message names the check and where."""


def _require(ok: bool, check: str, detail: str) -> None:
    if not ok:
        raise ContractError(f"{check}: {detail}")


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every array or scalar inside dicts, tuples and lists, with its path."""
    if isinstance(value, Mapping):
        for key in value:
            yield from _leaves(value[key], f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def _differences(a: Any, b: Any, path: str = "", ignore: tuple[str, ...] = ()) -> list[str]:
    """Where ``a`` and ``b`` differ (structure, dtype or value); empty when identical.

    Leaves whose path ends with one of ``ignore`` are not compared.
    """
    la, lb = dict(_leaves(a, path)), dict(_leaves(b, path))
    for leaves in (la, lb):
        for key in [k for k in leaves if k.endswith(ignore)]:
            del leaves[key]
    if set(la) != set(lb):
        return [f"{path}: keys {sorted(set(la) ^ set(lb))}"]
    out = []
    for key, x in la.items():
        y = lb[key]
        if isinstance(x, (np.ndarray, np.generic)) or isinstance(y, (np.ndarray, np.generic)):
            xa, ya = np.asarray(x), np.asarray(y)
            if xa.dtype != ya.dtype or xa.shape != ya.shape:
                out.append(f"{key}: {xa.dtype}{xa.shape} vs {ya.dtype}{ya.shape}")
            elif xa.dtype == object:
                out += [f"{key}[{i}]" for i, (p, q) in enumerate(zip(xa, ya)) if _differences(p, q)]
            elif not np.array_equal(xa, ya, equal_nan=xa.dtype.kind == "f"):
                out.append(f"{key}: values differ")
        elif x != y:
            out.append(f"{key}: {x!r} vs {y!r}")
    return out


def _same(check: str, a: Any, b: Any, ignore: tuple[str, ...] = ()) -> None:
    diffs = _differences(a, b, ignore=ignore)
    _require(not diffs, check, "; ".join(diffs[:5]))


def _arrays(value: Any) -> list[tuple[str, np.ndarray]]:
    return [(p, v) for p, v in _leaves(value) if isinstance(v, np.ndarray) and v.size]


def _no_shared_memory(check: str, a: Any, b: Any, names: tuple[str, str]) -> None:
    for pa, x in _arrays(a):
        for pb, y in _arrays(b):
            _require(
                not np.shares_memory(x, y),
                check,
                f"{names[0]}{pa} and {names[1]}{pb} share memory (a later step overwrites one)",
            )


# ------------------------------------------------------------------------------------------
# what an env is


def _batched(env: Any) -> LatentGridworldVectorEnv | None:
    """The batched env behind ``env`` (itself, or the SB3 adapter's), if any."""
    if isinstance(env, LatentGridworldVectorEnv):
        return env
    inner = getattr(env, "venv", None)
    return inner if isinstance(inner, LatentGridworldVectorEnv) else None


def _is_sb3(env: Any) -> bool:
    return hasattr(env, "step_async") and hasattr(env, "set_options")


def _base(env: Any) -> LatentGridworldEnv:
    base = env.unwrapped
    _require(
        isinstance(base, LatentGridworldEnv),
        "setup",
        f"check_contract takes a latent-gridworld env, got {type(base).__name__}",
    )
    return base


def _arguments(base: LatentGridworldEnv) -> dict[str, Any]:
    """The constructor arguments ``base`` was built with, render mode aside."""
    return {
        "obs_mode": base.obs_mode,
        "tile_size": base.tile_size,
        "render_tile_size": base.render_tile_size,
        "obs_format": base.obs_format,
        **dataclasses.asdict(base.config),
    }


def _option_sets(config: world.WorldConfig, task: world.Task, split: str) -> list[dict[str, Any]]:
    """One options dict per reset option, valid in this world, then all of them together.

    The values come from a task the env sampled itself, so each is valid for its split.
    """
    _require(
        set(RESET_OPTIONS) == set(ECHO) | {"placement"},
        "setup",
        f"reset options {RESET_OPTIONS} changed: teach check_contract the new ones",
    )
    sets: list[dict[str, Any]] = [
        {"maze": task.maze},
        {"maze": task.maze, "goal": task.goal},
        {"maze": task.maze, "goal": task.goal, "start": task.start},
        {"icl": not task.icl},
        {"placement": task.placement + 1},
    ]
    sets += [{"split": s} for s in SPLITS]
    sets.append(
        {
            "maze": task.maze,
            "goal": task.goal,
            "start": task.start,
            "icl": task.icl,
            "placement": task.placement,
            "split": split,
        }
    )
    return sets


def _echo_problems(
    options: Mapping[str, Any], info: Mapping[str, Any], placement: int
) -> list[str]:
    out = []
    for name, value in options.items():
        if name == "placement":
            if placement != value:
                out.append(f"placement {value} pinned, the episode has placement {placement}")
            continue
        key, read = ECHO[name]
        got = int(info[key]) if name == "split" else read(info[key])
        want = read(value)
        if got != want:
            out.append(f"options[{name!r}]={value!r}: info[{key!r}] is {got!r}, expected {want!r}")
    return out


# ------------------------------------------------------------------------------------------
# single envs (and wrapper stacks)


def _rollout(env: Any, seed: int, options: dict[str, Any] | None, actions: list[int]) -> list[Any]:
    out: list[Any] = [_copy(env.reset(seed=seed, options=options))]
    for a in actions:
        step = env.step(a)
        out.append(_copy(step))
        if step[2] or step[3]:
            break
    return out


def _check_single(
    env: Any,
    seed: int,
    steps: int,
    make: Callable[..., Any] | None,
    pickles: bool,
    ignore: tuple[str, ...],
) -> None:
    base = _base(env)
    actions = [int(a) for a in np.random.default_rng(seed).integers(0, 4, size=steps)]

    # no aliasing: keep every observation handed out and check it later
    obs, info = env.reset(seed=seed)
    _no_shared_memory("no aliasing", obs, info, ("obs", "info"))
    kept = [(obs, _copy(obs), info, _copy(info))]
    for t, a in enumerate(actions):
        nobs, _, terminated, truncated, ninfo = env.step(a)
        _no_shared_memory("no aliasing", kept[-1][0], nobs, (f"obs {t}", f"obs {t + 1}"))
        _no_shared_memory("no aliasing", nobs, ninfo, (f"obs {t + 1}", f"info {t + 1}"))
        kept.append((nobs, _copy(nobs), ninfo, _copy(ninfo)))
        if terminated or truncated:
            nobs, ninfo = env.reset()
            kept.append((nobs, _copy(nobs), ninfo, _copy(ninfo)))
    for t, (o, o_copy, i, i_copy) in enumerate(kept):
        _same(f"no aliasing: observation {t} changed after later steps", o, o_copy)
        _same(f"no aliasing: info {t} changed after later steps", i, i_copy)

    # every reset option, echoed
    _, info = env.reset(seed=seed)
    assert base.state is not None
    task, split = base.state.task, SPLITS[int(info["split_id"])]
    for options in _option_sets(base.config, task, split):
        _, info = env.reset(seed=seed + 1, options=dict(options))
        assert base.state is not None
        problems = _echo_problems(options, info, base.state.task.placement)
        _require(not problems, f"reset option {options}", "; ".join(problems))

    # determinism, with and without options
    for pinned in (None, {"maze": task.maze, "goal": task.goal}):
        _same(
            f"determinism (seed {seed}, options {pinned})",
            _rollout(env, seed, pinned, actions),
            _rollout(env, seed, pinned, actions),
            ignore,
        )

    # pickling round trip continues identically (the base env's, if the stack cannot pickle)
    original = env if pickles else base
    original.reset(seed=seed)
    for a in actions[:3]:
        original.step(a)
    clone = pickle.loads(pickle.dumps(original))
    for t, a in enumerate(actions):
        got, want = _copy(clone.step(a)), _copy(original.step(a))
        _same(f"pickle round trip: step {t} after restoring", got, want, ignore)
        if want[2] or want[3]:
            break
    clone.close()

    _check_render_modes(env, seed, make)


def _remake(env: Any, render_mode: str) -> Any:
    if env.spec is not None:
        return gym.make(env.spec, render_mode=render_mode)
    return LatentGridworldEnv(render_mode=render_mode, **_arguments(_base(env)))


def _check_render(check: str, mode: str, frame: Any, n: int | None = None) -> None:
    frames = frame if n is not None else (frame,)
    if n is not None:
        _require(
            isinstance(frame, tuple) and len(frame) == n, check, f"{n} frames, got {frame!r:.60}"
        )
    for f in frames:
        if mode == "rgb_array":
            ok = (
                isinstance(f, np.ndarray)
                and f.dtype == np.uint8
                and f.ndim == 3
                and f.shape[2] == 3
            )
            _require(ok, check, f"an (H, W, 3) uint8 array, got {type(f).__name__}")
        elif mode == "ansi":
            _require(isinstance(f, str) and bool(f), check, f"a non-empty str, got {f!r:.60}")
        elif mode == "human":
            _require(f is None, check, f"None, got {type(f).__name__}")


def _check_render_modes(env: Any, seed: int, make: Callable[..., Any] | None) -> None:
    for mode in env.metadata.get("render_modes", []):
        if mode == "human" and importlib.util.find_spec("pygame") is None:
            continue  # the window needs the render extra
        other = make(render_mode=mode) if make is not None else _remake(env, mode)
        try:
            other.reset(seed=seed)
            _check_render(f"render_mode {mode!r}", mode, other.render())
            other.step(0)
            _check_render(f"render_mode {mode!r} after a step", mode, other.render())
        finally:
            other.close()


# ------------------------------------------------------------------------------------------
# the batched env and the SB3 adapter


def _vector_reset(env: Any, seed: int, options: dict[str, Any] | None) -> tuple[Any, Any]:
    if _is_sb3(env):
        env.seed(seed)
        env.set_options(options)
        return env.reset(), env.reset_infos
    return env.reset(seed=seed, options=options)


def _row(value: Any, i: int) -> Any:
    """Env ``i``'s part of a batched observation or info."""
    if isinstance(value, Mapping):
        return {k: _row(v, i) for k, v in value.items() if not k.startswith("_")}
    return value[i]


def _check_vector(env: Any, seed: int, steps: int) -> None:
    vec = _batched(env)
    assert vec is not None
    n = vec.num_envs
    sb3 = _is_sb3(env)
    # the reference for single == vector: a single env with the batched env's arguments (the
    # batched env keeps one, built from them, as its task sampler)
    single = LatentGridworldEnv(**_arguments(vec._single))
    rng = np.random.default_rng(seed)
    actions = [rng.integers(0, 4, size=n) for _ in range(steps)]

    def step(a: np.ndarray) -> tuple[Any, Any]:
        out = env.step(a)
        return out[0], out[-1]  # the observation and the infos, in either API

    # no aliasing between successive batched observations, and with the infos
    obs, info = _vector_reset(env, seed, None)
    _no_shared_memory("no aliasing", obs, info, ("obs", "info"))
    kept = [(obs, _copy(obs))]
    for t, a in enumerate(actions):
        nobs, ninfo = step(a)
        _no_shared_memory("no aliasing", kept[-1][0], nobs, (f"obs {t}", f"obs {t + 1}"))
        _no_shared_memory("no aliasing", nobs, ninfo, (f"obs {t + 1}", f"info {t + 1}"))
        kept.append((nobs, _copy(nobs)))
    for t, (o, o_copy) in enumerate(kept):
        _same(f"no aliasing: batched observation {t} changed after later steps", o, o_copy)

    # single == vector, per reset option (and with none)
    single.reset(seed=seed)
    assert single.state is not None
    task, split = single.state.task, single.config.split
    for options in [None, *_option_sets(single.config, task, split)]:
        obs, info = _vector_reset(env, seed, dict(options) if options else None)
        for i in range(n):
            sobs, sinfo = single.reset(seed=seed + i, options=dict(options) if options else None)
            where = f"single == vector (env {i}, options {options})"
            _same(f"{where}: observation", _row(obs, i), sobs)
            vinfo = info[i] if sb3 else _row(info, i)
            _same(f"{where}: info", {k: vinfo[k] for k in sinfo}, sinfo)
            if options:
                placement = vec.get_state(i).task.placement
                problems = _echo_problems(options, vinfo, placement)
                _require(not problems, f"reset option {options} (env {i})", "; ".join(problems))

    # determinism
    def run() -> list[Any]:
        out: list[Any] = [_copy(_vector_reset(env, seed, None))]
        out += [_copy(env.step(a)) for a in actions]
        return out

    _same(f"determinism (seed {seed})", run(), run())

    if not sb3:  # the SB3 adapter pickles through SB3's own machinery (cloudpickle)
        _vector_reset(env, seed, None)
        env.step(actions[0])
        clone = pickle.loads(pickle.dumps(env))
        for t, a in enumerate(actions):
            _same(f"pickle round trip: step {t} after restoring", clone.step(a), env.step(a))
        for mode in vec.metadata.get("render_modes", []):
            other = LatentGridworldVectorEnv(n, render_mode=mode, **_arguments(vec._single))
            other.reset(seed=seed)
            _check_render(f"render_mode {mode!r}", mode, other.render(), n)
            other.close()


# ------------------------------------------------------------------------------------------


def check_contract(
    env: Any,
    *,
    seed: int = 0,
    steps: int = 30,
    make: Callable[..., Any] | None = None,
    pickles: bool = True,
    ignore: tuple[str, ...] = (),
) -> None:
    """Assert the env contract (see the module docstring) on ``env``; raise on the first breach.

    Args:
        env: A latent-gridworld env, possibly wrapped (``gym.make`` or any wrapper stack), the
            batched env (``gym.make_vec`` / ``LatentGridworldVectorEnv``), or the SB3 adapter.
            It is reset and stepped; it is not closed.
        seed: The seed of the resets; each batched env ``i`` is compared with ``seed + i``.
        steps: Steps per checked rollout.
        make: ``make(render_mode=mode)`` builds the same stack in another render mode (single
            envs only); by default ``gym.make(env.spec, render_mode=mode)``, which re-applies
            the wrappers Gymnasium recorded in the spec.
        pickles: False for a stack with a wrapper that cannot be pickled (Gymnasium's
            ``FlattenObservation`` holds a lambda); the round trip is then checked on the
            base env.
        ignore: Ends of leaf paths left out of the determinism and pickling comparisons:
            values that are not a function of seed and actions, such as wall-clock times
            (``("['episode']['t']",)`` for ``RecordEpisodeStatistics``).

    Raises:
        ContractError: the check that failed, with the option, key and step.
    """
    if _batched(env) is not None:
        _check_vector(env, seed, steps)
    else:
        _check_single(env, seed, steps, make, pickles, ignore)
