"""Scale out on Ray: RLlib PPO on the registered envs, and evaluation sweeps as Ray tasks.

Ray is an optional extra (``pip install 'latent-gridworld[ray]'``). This module imports without
it; every function that needs Ray imports it when called and, if it is missing, raises an
``ImportError`` that names the extra.

RLlib (new API stack) builds its default encoders only for a 1-D ``Box`` (an MLP) or a 3-D
``Box`` (a CNN). Our observations are a ``Dict`` of a uint8 image (or ASCII codes) and a
``Discrete`` goal. RLlib's own answer for a ``Dict``, the ``FlattenObservations`` connector,
would flatten the image into a 4800-long vector of raw 0..255 values and lose its spatial layout,
so the env creator registered here wraps the env in :class:`RLlibObservation` instead:

- pixel mode: a float32 ``(H, W, 3 + n)`` image in [0, 1] whose extra ``n`` planes hold the goal
  (and any cue) one-hot, constant over the image, so RLlib's default CNN sees everything;
- ASCII mode: the view one-hot per cell plus the goal (and cues) one-hot, a flat float32 vector
  for RLlib's default MLP.

The wrapper runs inside each env runner (a separate Ray process), so the driver never touches
observations, and it needs no RLlib connector API (which has changed between Ray releases).

Why one module of this size: everything that needs Ray (the RLlib env adapter, address checks,
the executor for evaluation sweeps, the memory on workers) sits behind one import guard
(:func:`require_ray`), so the rest of ``agents`` never imports Ray.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from latent_gridworld.core.constants import ASCII_TO_CODE, N_CELL_CODES

if TYPE_CHECKING:
    from types import ModuleType

RAY_EXTRA_HINT = "pip install 'latent-gridworld[ray]'"
ENV_IDS = ("LatentGridworld/Pixel-v0", "LatentGridworld/ASCII-v0")
# the names the creators are registered under with tune.register_env (one per env id)
RLLIB_ENV_NAMES = {env_id: f"{env_id}-rllib" for env_id in ENV_IDS}
# a CNN for the default 5x5 view at tile_size 8 (40x40 pixels): "same" padding, stride 2 halves
# the side each time (40 -> 20 -> 10 -> 5); RLlib ships defaults only for 10, 42, 64, 84 and 96
DEFAULT_CONV_FILTERS: list[list[int]] = [[16, 3, 2], [32, 3, 2], [32, 3, 2]]


def require_ray() -> ModuleType:
    """Import and return :mod:`ray`, or raise an ``ImportError`` that names the extra.

    >>> import importlib.util
    >>> (importlib.util.find_spec("ray") is None) or require_ray().__name__ == "ray"
    True
    """
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ImportError(
            f"Ray is not installed; running on Ray needs the 'ray' extra: {RAY_EXTRA_HINT}"
        ) from exc


# ---------------------------------------------------------------------------------- RLlib


class RLlibObservation(gym.ObservationWrapper[np.ndarray, int, dict[str, Any]]):
    """Turn the ``Dict`` observation into one ``Box`` that RLlib's default encoders accept.

    Pixel mode gives ``(H, W, 3 + n)`` float32 in [0, 1] (image, then one-hot planes of the goal
    and cues); ASCII mode gives a flat float32 vector (one-hot of each view cell's code, then the
    one-hot goal and cues). ``n`` is the summed size of the one-hot parts.

    >>> env = RLlibObservation(gym.make("LatentGridworld/Pixel-v0"))
    >>> obs, _ = env.reset(seed=0)
    >>> obs.shape, obs.dtype, env.observation_space.contains(obs)
    ((40, 40, 11), dtype('float32'), True)
    >>> env = RLlibObservation(gym.make("LatentGridworld/ASCII-v0"))
    >>> env.observation_space.shape  # 25 cells x 29 cell codes + 8 goals
    (733,)
    """

    def __init__(self, env: gym.Env[dict[str, Any], int]) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or not ({"image", "view"} & set(space.spaces)):
            raise ValueError(
                "RLlibObservation wraps a LatentGridworld env (a Dict observation with 'image' "
                f"or 'view'); got {space}"
            )
        self._pixel = "image" in space.spaces
        # one-hot sizes of every discrete part (goal, maze cue, position cue), in a fixed order
        self._discrete: list[tuple[str, np.ndarray]] = []
        for key, sub in space.spaces.items():
            if isinstance(sub, spaces.Discrete):
                self._discrete.append((key, np.array([sub.n], dtype=np.int64)))
            elif isinstance(sub, spaces.MultiDiscrete):
                self._discrete.append((key, np.asarray(sub.nvec, dtype=np.int64).ravel()))
        self._n_onehot = int(sum(int(sizes.sum()) for _, sizes in self._discrete))
        if self._pixel:
            h, w, c = space["image"].shape  # type: ignore[misc]
            shape: tuple[int, ...] = (h, w, c + self._n_onehot)
        else:
            shape = (space["view"].shape[0] * N_CELL_CODES + self._n_onehot,)  # type: ignore[index]
        self.observation_space = spaces.Box(0.0, 1.0, shape, np.float32)

    def _onehot(self, obs: Mapping[str, Any]) -> np.ndarray:
        out = np.zeros(self._n_onehot, dtype=np.float32)
        offset = 0
        for key, sizes in self._discrete:
            values = np.asarray(obs[key], dtype=np.int64).ravel()
            for value, size in zip(values, sizes):
                out[offset + int(value)] = 1.0
                offset += int(size)
        return out

    def observation(self, observation: dict[str, Any]) -> np.ndarray:
        """The ``Box`` observation described in the class docstring."""
        onehot = self._onehot(observation)
        if self._pixel:
            image = np.asarray(observation["image"], dtype=np.float32) / 255.0
            planes = np.broadcast_to(onehot, (*image.shape[:2], onehot.size))
            return np.concatenate([image, planes], axis=-1)
        codes = ASCII_TO_CODE[np.asarray(observation["view"], dtype=np.uint8)]
        cells = np.zeros((codes.size, N_CELL_CODES), dtype=np.float32)
        cells[np.arange(codes.size), codes] = 1.0
        return np.concatenate([cells.ravel(), onehot])


def make_rllib_env(env_id: str, env_config: Mapping[str, Any] | None = None) -> gym.Env[Any, Any]:
    """Create a registered env wrapped for RLlib; ``env_config`` holds ``gym.make`` kwargs.

    This is the creator :func:`register_rllib_envs` hands to ``tune.register_env``. It imports
    :mod:`latent_gridworld` itself, so it works in a fresh env-runner process on any node.
    RLlib's ``EnvContext`` (a dict with worker/vector indices as attributes) is accepted as is.

    >>> make_rllib_env("LatentGridworld/ASCII-v0", {"size": 9}).unwrapped.config.size
    9
    """
    importlib.import_module("latent_gridworld")  # registers the ids in this process
    if env_id not in ENV_IDS:
        raise ValueError(f"unknown env id {env_id!r}; valid: {', '.join(ENV_IDS)}")
    return RLlibObservation(gym.make(env_id, **dict(env_config or {})))


def _creator(env_id: str) -> Callable[[Any], gym.Env[Any, Any]]:
    def create(env_config: Any) -> gym.Env[Any, Any]:
        return make_rllib_env(env_id, env_config)

    return create


def register_rllib_envs() -> dict[str, str]:
    """Register an RLlib env creator per env id with ``tune.register_env``; idempotent.

    Returns:
        env id -> the name to pass as ``AlgorithmConfig.environment(env=...)``.
    """
    require_ray()
    from ray import tune

    for env_id, name in RLLIB_ENV_NAMES.items():
        tune.register_env(name, _creator(env_id))
    return dict(RLLIB_ENV_NAMES)


def ppo_config(
    env_id: str = "LatentGridworld/Pixel-v0",
    env_config: Mapping[str, Any] | None = None,
    *,
    num_env_runners: int = 1,
    num_envs_per_env_runner: int = 1,
    train_batch_size: int = 4000,
    minibatch_size: int = 128,
    num_epochs: int = 10,
    lr: float = 3e-4,
    conv_filters: list[list[int]] | None = None,
    fcnet_hiddens: tuple[int, ...] = (256, 256),
    seed: int | None = None,
) -> Any:
    """An RLlib ``PPOConfig`` (new API stack) for one of the registered envs.

    Args:
        env_id: ``LatentGridworld/Pixel-v0`` or ``LatentGridworld/ASCII-v0``.
        env_config: ``gym.make`` kwargs (any :class:`~latent_gridworld.WorldConfig` field,
            ``tile_size``, ...), passed to every env runner.
        num_env_runners: Env-runner actors (separate processes, one CPU each); 0 samples in the
            driver process.
        num_envs_per_env_runner: Envs stepped together (a vector env) inside each runner.
        train_batch_size: Env steps per training iteration (per learner).
        minibatch_size: SGD minibatch size.
        num_epochs: SGD passes over each train batch.
        lr: Adam learning rate.
        conv_filters: ``[channels, kernel, stride]`` per conv layer (pixel mode);
            ``None`` picks :data:`DEFAULT_CONV_FILTERS` (sized for a 40x40 view image).
        fcnet_hiddens: Hidden sizes of the MLP (ASCII mode) or of the layers after the CNN.
        seed: Seeds RLlib's env runners and learner (``debugging(seed=...)``).

    Returns:
        A ``ray.rllib.algorithms.ppo.PPOConfig``; call ``.build_algo()`` after ``ray.init``.
    """
    require_ray()
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    names = register_rllib_envs()
    if env_id not in names:
        raise ValueError(f"unknown env id {env_id!r}; valid: {', '.join(ENV_IDS)}")
    if train_batch_size < 1 or minibatch_size < 1 or num_epochs < 1 or num_env_runners < 0:
        raise ValueError(
            "train_batch_size, minibatch_size and num_epochs must be >= 1 and "
            f"num_env_runners >= 0; got {train_batch_size}, {minibatch_size}, {num_epochs}, "
            f"{num_env_runners}"
        )
    model = DefaultModelConfig(
        # RLlib's annotation is narrower than the lists it takes; cast, not an ignore, so that
        # mypy is clean with and without ray installed
        conv_filters=cast(Any, conv_filters or DEFAULT_CONV_FILTERS),
        fcnet_hiddens=list(fcnet_hiddens),
        head_fcnet_hiddens=[],
    )
    config = (
        PPOConfig()
        .environment(env=names[env_id], env_config=dict(env_config or {}))
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            rollout_fragment_length="auto",
        )
        .training(
            train_batch_size_per_learner=train_batch_size,
            minibatch_size=min(minibatch_size, train_batch_size),
            num_epochs=num_epochs,
            lr=lr,
        )
        .rl_module(model_config=model)
    )
    if seed is not None:
        config = config.debugging(seed=seed)
    return config


# ---------------------------------------------------------------------------------- connecting

LOCAL = "local"
# what a probe prints on success, so that stray output from ray.init cannot be mistaken for it
_PROBE_OK = "latent-gridworld-ray-probe-ok"
_PROBE = (
    "import sys, ray\n"
    "ray.init(address=sys.argv[1], log_to_driver=False, logging_level='ERROR')\n"
    "cpus = ray.cluster_resources().get('CPU', 0)\n"
    "ray.shutdown()\n"
    f"print({_PROBE_OK!r}, cpus)\n"
)


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; ``None`` for ``auto``.

    >>> _host_port("ray://10.0.0.5:10001"), _host_port("head:6379"), _host_port("auto")
    (('10.0.0.5', 10001), ('head', 6379), None)
    """
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(
            f"invalid Ray address {address!r}; valid: 'HOST:PORT' (a `ray start --head` node), "
            "'ray://HOST:PORT' (Ray Client), 'auto' (the cluster on this node) or 'local'"
        )
    return host.strip("[]"), int(port)


def check_ray_address(address: str, timeout_s: float = 30.0) -> None:
    """Raise ``ConnectionError`` unless a Ray cluster answers at ``address`` within the time.

    ``ray.init(address=...)`` waits on an unreachable or non-Ray address for minutes (it retries
    in C++, beyond the reach of Python timeouts), so the address is first tried with a TCP
    connect and then with ``ray.init`` in a child process that is killed at the deadline.

    Args:
        address: ``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``.
        timeout_s: Seconds to wait in all (the TCP connect and the probe).

    Raises:
        ConnectionError: Nothing reachable, or no Ray cluster answered in time; the message
            says which and how to start one.
        ValueError: A malformed address.
    """
    import socket
    import subprocess
    import sys
    import time

    require_ray()
    hint = (
        "start a cluster with `ray start --head` (and `ray start --address=HEAD:6379` on the "
        "other nodes), or leave out the address to start a local Ray instance"
    )
    deadline = time.monotonic() + timeout_s
    host_port = _host_port(address)
    if host_port is not None:
        try:
            socket.create_connection(host_port, timeout=max(timeout_s, 0.1)).close()
        except OSError as exc:
            msg = f"cannot reach a Ray cluster at {address}: {exc}; {hint}"
            raise ConnectionError(msg) from exc
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, address],
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 0.1),
        )
    except subprocess.TimeoutExpired as exc:
        raise ConnectionError(
            f"no Ray cluster answered at {address} within {timeout_s:g} s; {hint}"
        ) from exc
    if probe.returncode != 0 or _PROBE_OK not in probe.stdout:
        last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
        if "InvalidAuthToken" in probe.stderr or "Unauthenticated" in probe.stderr:
            # Ray >= 2.5x clusters use token auth; ray.init enables it by itself only for 'auto'
            hint = (
                "the cluster requires token authentication: export RAY_AUTH_MODE=token and "
                "provide the cluster's token (~/.ray/auth_token, RAY_AUTH_TOKEN or "
                "RAY_AUTH_TOKEN_PATH); see https://docs.ray.io/en/latest/ray-security/token-auth.html"
            )
        raise ConnectionError(f"cannot connect to a Ray cluster at {address}: {last}; {hint}")


def connect_ray(
    address: str | None = None, *, num_cpus: int | None = None, timeout_s: float = 30.0
) -> ModuleType:
    """Connect to a Ray cluster, or start a local instance; return :mod:`ray`.

    An already initialised Ray (a test fixture, a notebook) is reused as it is, after an
    explicit ``address`` has been checked to answer.

    Args:
        address: ``None`` or ``"local"`` starts a local instance; ``HOST:PORT``,
            ``ray://HOST:PORT`` or ``"auto"`` connects to a running cluster (checked first with
            :func:`check_ray_address`, so a bad address fails within ``timeout_s``).
        num_cpus: CPUs a local instance may use (``None``: all of this machine's).
        timeout_s: Bound on connecting to a remote address.

    Raises:
        ImportError: Ray is not installed (the message names the extra).
        ConnectionError: The address did not answer in time.
    """
    ray = require_ray()
    local = address is None or address == LOCAL
    if not local:
        # even with Ray already up: an address that does not answer is the user's error to see
        check_ray_address(address, timeout_s)  # type: ignore[arg-type]
    if ray.is_initialized():
        return ray
    quiet = {"log_to_driver": False, "logging_level": "ERROR"}
    if local:
        # address="local": a new instance even if `ray start` runs on this node (a bare
        # ray.init() would join that one and refuse num_cpus); no dashboard, a heavy process
        ray.init(address=LOCAL, num_cpus=num_cpus, include_dashboard=False, **quiet)
    else:
        ray.init(address=address, **quiet)
    return ray


# ---------------------------------------------------------------------------------- sweeps


def _call(initializer: Callable[[], Any] | None, fn: Callable[..., Any], *args: Any) -> Any:
    """Body of every sweep task: run ``initializer`` (e.g. one torch thread), then the cell."""
    if initializer is not None:
        initializer()
    return fn(*args)


class RayFuture:
    """A submitted Ray task; :meth:`result` blocks until it is done (``ray.get``)."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref

    def result(self, timeout: float | None = None) -> Any:
        """The task's return value; re-raises its exception (as a ``RayTaskError`` subclass)."""
        return require_ray().get(self.ref, timeout=timeout)


class RayExecutor:
    """The ``submit``/``result`` part of ``concurrent.futures.Executor``, as Ray tasks.

    Code that fans work out with a ``ProcessPoolExecutor`` (``with executor as pool:
    pool.submit(fn, *args).result()``) runs on a Ray cluster by swapping in this class: each
    ``submit`` becomes one Ray task with ``num_cpus`` CPUs, scheduled on any node. ``fn`` must be
    importable on the workers (a module-level function of an installed package) and its
    arguments and result picklable; numpy arrays travel through the object store without copies
    on the same node.

    Args:
        address: See :func:`connect_ray` (an initialised Ray is reused; an explicit address
            is still checked to answer).
        num_cpus: CPUs reserved per task (1: single-thread jobs, one per core).
        initializer: Called in the worker before each task (like ``ProcessPoolExecutor``'s).
        local_num_cpus: CPUs of a local instance started here.
        timeout_s: Bound on connecting to ``address``.

    >>> with RayExecutor(local_num_cpus=2) as pool:  # doctest: +SKIP
    ...     print([pool.submit(pow, 2, n).result() for n in range(4)])
    [1, 2, 4, 8]
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1,
        initializer: Callable[[], Any] | None = None,
        local_num_cpus: int | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.initializer = initializer
        self.local_num_cpus = local_num_cpus
        self.timeout_s = timeout_s
        self._started = False
        self._remote: Any = None

    def __enter__(self) -> RayExecutor:
        ray = require_ray()
        self._started = not ray.is_initialized()
        connect_ray(self.address, num_cpus=self.local_num_cpus, timeout_s=self.timeout_s)
        # Ray's default retries re-run a task only when its worker dies, not when it raises
        self._remote = ray.remote(num_cpus=self.num_cpus)(_call)
        return self

    def __exit__(self, *exc: object) -> None:
        # a Ray instance this executor started is its own to stop; a caller's is left running
        if self._started:
            require_ray().shutdown()

    def submit(self, fn: Callable[..., Any], *args: Any) -> RayFuture:
        """Start ``fn(*args)`` as a Ray task."""
        if self._remote is None:
            raise RuntimeError("use RayExecutor as a context manager: with RayExecutor() as pool")
        return RayFuture(self._remote.remote(self.initializer, fn, *args))

    def map(self, fn: Callable[..., Any], *iterables: Any) -> list[Any]:
        """``[fn(*args) for args in zip(*iterables)]``, all submitted before any is awaited."""
        futures = [self.submit(fn, *args) for args in zip(*iterables)]
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------- memory

# per worker process: a memory is rebuilt (FAISS indexes filled) once, then reused by every
# task that process runs with the same handle
_MEMORY_CACHE: dict[str, Any] = {}


class MemoryHandle:
    """How an :class:`~agents.memory.EpisodicMemory` built in the driver reaches Ray workers.

    Two routes (see ``docs/scaling.md``):

    - object store (``share_memory(memory)``): ``ray.put`` of the memory, which pickles to its
      plain arrays (never FAISS objects); workers on the same node map the arrays from shared
      memory without a copy, other nodes fetch them once; each worker process rebuilds the
      FAISS indexes once (:meth:`get` caches it). Nothing touches disk, the memory lives as long
      as the handle does.
    - file (``share_memory(memory, path=...)``): ``memory.save(path)``, and workers
      ``EpisodicMemory.load(path)`` (checksummed, no pickle). ``path`` must be readable from
      every node (a shared filesystem); the file outlives the Ray session and can be reused.

    Pass the handle itself as a task argument and call :meth:`get` inside the task.
    """

    def __init__(self, ref: Any = None, path: str | None = None) -> None:
        if (ref is None) == (path is None):
            raise ValueError("a MemoryHandle holds exactly one of an object ref or a file path")
        self.ref = ref
        self.path = path

    @property
    def key(self) -> str:
        """What identifies the memory in a worker's cache (the object id or the path)."""
        return f"ref:{self.ref.hex()}" if self.ref is not None else f"file:{self.path}"

    def get(self) -> Any:
        """The memory, rebuilt in this process at the first call and cached after."""
        memory = _MEMORY_CACHE.get(self.key)
        if memory is None:
            if self.ref is not None:
                memory = require_ray().get(self.ref)
            else:
                from agents.memory import EpisodicMemory

                memory = EpisodicMemory.load(str(self.path))
            _MEMORY_CACHE[self.key] = memory
        return memory

    def __repr__(self) -> str:
        return f"MemoryHandle({self.key})"


def share_memory(memory: Any, path: str | None = None) -> MemoryHandle:
    """Make ``memory`` reachable from Ray tasks; see :class:`MemoryHandle` for the two routes.

    Args:
        memory: An :class:`~agents.memory.EpisodicMemory`.
        path: Save it there (a shared filesystem) instead of putting it in the object store.
    """
    ray = require_ray()
    if path is not None:
        memory.save(path, overwrite=True)  # a transport file for the workers
        return MemoryHandle(path=str(path))
    if not ray.is_initialized():
        raise RuntimeError("connect to Ray first (connect_ray) to put a memory in the object store")
    return MemoryHandle(ref=ray.put(memory))


# ---------------------------------------------------------------------------------- eval grids


@dataclass
class EvalCell:
    """One cell of an evaluation grid: an agent on one split of one world, with one seed.

    Attributes:
        agent: A reference policy (``random``, ``visible_at_start``, ``wander_then_path``,
            ``expert``) or a third-party factory ``FILE.py:FACTORY`` (:mod:`agents.protocol`).
        split: ``train``, ``explicit``, ``latent`` or ``new_maze``.
        seed: The ``seed`` of ``evaluate_agent`` (task ``i`` is reset with
            ``seed * 100003 + i``; the benchmark passes ``1000 + training seed``) and the agent's.
        n_tasks: Closed-loop tasks.
        world: :class:`~latent_gridworld.WorldConfig` fields (the ablation), e.g.
            ``{"size": 9, "full_view": True}``.
        memory: A :class:`MemoryHandle` handed to the agent factory (``AgentContext.memory``).
    """

    agent: str
    split: str
    seed: int
    n_tasks: int
    world: dict[str, Any] = field(default_factory=dict)
    memory: MemoryHandle | None = None


def evaluate_cell(cell: EvalCell) -> dict[str, Any]:
    """Evaluate one cell; a pure function of the cell, so it gives the same result anywhere.

    Returns:
        ``{"success", "efficiency", "trivial", "steps"}`` per-task lists, as the benchmark's
        results file stores them.
    """
    from agents.evaluation import evaluate_agent
    from agents.protocol import AgentContext, AgentFactory, load_factory
    from agents.reference import ReferencePolicy, reference_factory
    from latent_gridworld.core.config import WorldConfig

    world = WorldConfig(**cell.world)
    memory = cell.memory.get() if cell.memory is not None else None
    factory: AgentFactory = (
        reference_factory(cell.agent)
        if cell.agent in ReferencePolicy.MODES
        else load_factory(cell.agent)
    )
    agent = factory(AgentContext(world, memory, cell.seed))
    r = evaluate_agent(agent, world, cell.split, cell.n_tasks, seed=cell.seed)
    return {
        "success": r.success.tolist(),
        "efficiency": r.efficiency.round(6).tolist(),
        "trivial": r.trivial.tolist(),
        "steps": r.steps.tolist(),
    }


def _one_thread() -> None:
    """Worker initializer: one torch thread per single-CPU task (if torch is in use at all)."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def run_grid(
    cells: Sequence[EvalCell], executor: RayExecutor | None = None
) -> list[dict[str, Any]]:
    """Evaluate ``cells`` in order, here (``executor=None``) or as Ray tasks; same results.

    >>> cells = [EvalCell("expert", "train", seed=s, n_tasks=2, world={"size": 7}) for s in (0, 1)]
    >>> [r["success"] for r in run_grid(cells)]
    [[True, True], [True, True]]
    """
    if executor is None:
        return [evaluate_cell(cell) for cell in cells]
    return executor.map(evaluate_cell, cells)
