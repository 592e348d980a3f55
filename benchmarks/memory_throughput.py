"""EpisodicMemory throughput: add/search speed, recall and bytes per episode at 10k-1M episodes.

Keys are real episode keys from the default featurizer. Two sources:

- ``--data "real/*.npz"``: dataset files (``pool*.npz`` and ``stream*.npz``, see
  docs/memory.md for the command that writes 1,000,000 real expert episodes); each size takes
  half its episodes from each group. This is how the numbers in docs/memory.md were measured.
- default: ``--real`` expert episodes are generated here (half in the pool mazes, half in a
  stream of fresh mazes, 4 episodes each, 30% ICL); larger sizes tile their keys, each copy
  perturbed by Gaussian noise ``--sigma`` and renormalised (the payload of a copy is the real
  episode, referenced). Quicker, but perturbed copies make IVF recall pessimistic.

Queries are ``knn`` queries (goal + the views of a whole new expert episode) in mazes the
memory holds. Every size reports FAISS (the memory's ``auto`` index, 1 thread) beside a numpy
brute-force search over the same keys (1 BLAS thread), in the same run, with wall and CPU time.

    python benchmarks/memory_throughput.py --data "real/*.npz" --sweep
    python benchmarks/memory_throughput.py --sizes 10000 --real 5000 --queries 100
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import platform
import resource
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# the numpy baseline runs on one BLAS thread, like FAISS (threads=1), for a like-for-like compare
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from agents.memory import DefaultFeaturizer, EpisodicMemory, IndexParams, RetrievalQuery
from latent_gridworld.datasets import EpisodeArrays, generate_dataset, load_dataset


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def real_episodes(n: int, seed: int) -> tuple[EpisodeArrays, dict[str, float]]:
    half = n // 2
    pool, t_pool = timed(generate_dataset, episodes=half, icl_share=0.3, seed=seed)
    stream, t_stream = timed(
        generate_dataset, episodes=n - half, stream=4, icl_share=0.3, seed=seed
    )
    speed = {
        "pool_episodes_per_s": half / t_pool,
        "stream_episodes_per_s": (n - half) / t_stream,
    }
    return EpisodeArrays.concatenate([pool, stream]), speed


def query_episodes(n: int, seed: int, per_maze: int = 4) -> EpisodeArrays:
    """New tasks in mazes the memory holds: pool mazes and the first stream mazes."""
    half = n // 2
    pool = generate_dataset(episodes=half, icl_share=0.3, seed=seed + 1000)
    stream = generate_dataset(episodes=n - half, stream=per_maze, icl_share=0.3, seed=seed + 1000)
    return EpisodeArrays.concatenate([pool, stream])


def tiled_keys(real: np.ndarray, n: int, sigma: float, seed: int) -> np.ndarray:
    idx = np.arange(n) % len(real)
    keys = real[idx].copy()
    if n > len(real):
        rng = np.random.default_rng(seed)
        extra = keys[len(real) :]
        extra += rng.standard_normal(extra.shape, dtype=np.float32) * sigma
        extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return keys


def exact(keys: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ keys.T
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(part, order, axis=1)


def recall(keys, queries, ids, exact_scores) -> tuple[float, float]:
    """Tie-aware recall@k (a hit scores at least the exact k-th best) and strict id recall."""
    got = np.einsum("qd,qkd->qk", queries, keys[np.maximum(ids, 0)])
    tie_aware = float(((got >= exact_scores[:, -1:] - 1e-5) & (ids >= 0)).mean())
    return tie_aware, float("nan")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tiled_source(real: EpisodeArrays, real_keys: np.ndarray, sigma: float):
    """Chunks for ``n`` episodes: the real ones, then perturbed copies (payload referenced)."""

    def chunks(n: int) -> list[tuple[EpisodeArrays, np.ndarray]]:
        keys = tiled_keys(real_keys, n, sigma, seed=n)
        out, done = [], 0
        while done < n:
            take = min(len(real), n - done)
            out.append((real.subset(0, take), keys[done : done + take]))
            done += take
        return out

    return chunks


def file_source(files: list[str], featurizer: DefaultFeaturizer):
    """Chunks for ``n`` episodes: half from the ``pool*`` files, half from the ``stream*`` ones."""
    loaded: dict[str, tuple[EpisodeArrays, np.ndarray]] = {}

    def get(path: str) -> tuple[EpisodeArrays, np.ndarray]:
        if path not in loaded:
            ds = load_dataset(path)
            loaded[path] = (ds, featurizer.episode_keys(ds))
        return loaded[path]

    groups = [
        sorted(f for f in files if "pool" in Path(f).name),
        sorted(f for f in files if "stream" in Path(f).name),
    ]

    def chunks(n: int) -> list[tuple[EpisodeArrays, np.ndarray]]:
        out = []
        for g, want in zip(groups, (n // 2, n - n // 2)):
            for path in g:
                if want == 0:
                    break
                ds, keys = get(path)
                take = min(want, len(ds))
                out.append((ds.subset(0, take), keys[:take]))
                want -= take
            if want:
                raise SystemExit(f"not enough episodes in the files for {n} episodes")
        return out

    return chunks


def bench_size(n, chunks, queries, args) -> dict:
    k = 8
    parts = chunks(n)
    keys = np.concatenate([kk for _, kk in parts])
    memory = EpisodicMemory(
        8, index=args.index, threads=args.threads, params=IndexParams(nprobe=args.nprobe)
    )
    t0 = time.perf_counter()
    for episodes, kk in parts:
        memory.extend(episodes, keys=kk)
    add_s = time.perf_counter() - t0
    payload = sum(e.nbytes for e, _ in parts)
    row: dict = {
        "episodes": n,
        "index": memory.built_index,
        "add_s": add_s,
        "add_episodes_per_s": n / add_s,
    }

    # exact baseline (numpy brute force), batch and single queries
    (ex_scores, ex_ids), batch_np = timed(exact, keys, queries, k)
    n_single_np = min(len(queries), 50 if n >= 500_000 else 200)
    t0, c0 = time.perf_counter(), time.process_time()
    for q in queries[:n_single_np]:
        exact(keys, q[None], k)
    row["numpy_single_ms"] = (time.perf_counter() - t0) / n_single_np * 1e3
    row["numpy_single_cpu_ms"] = (time.process_time() - c0) / n_single_np * 1e3
    row["numpy_batch_qps"] = len(queries) / batch_np

    # FAISS through the memory: single queries (as when acting one env at a time), then a batch
    memory.search(queries[0], k)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    singles = [memory.search(q, k)[1] for q in queries]
    row["faiss_single_ms"] = (time.perf_counter() - t0) / len(queries) * 1e3
    row["faiss_single_cpu_ms"] = (time.process_time() - c0) / len(queries) * 1e3
    (_, batch_ids), batch_faiss = timed(memory.search, queries, k)
    row["faiss_batch_qps"] = len(queries) / batch_faiss
    single_ids = np.stack([np.pad(s, (0, k - len(s)), constant_values=-1) for s in singles])
    assert (single_ids == batch_ids).all()
    row["recall_at_8"] = recall(keys, queries, batch_ids, ex_scores)[0]
    row["strict_id_recall_at_8"] = float(
        np.mean([len(set(a) & set(b)) / k for a, b in zip(batch_ids, ex_ids)])
    )

    # oracle: exact range search over the structured keys
    rng = np.random.default_rng(0)
    mazes = rng.choice(memory.maze_ids, size=50)
    t0 = time.perf_counter()
    for m in mazes:
        memory.relevant_ids(int(m), int(rng.integers(8)))
    row["oracle_query_ms"] = (time.perf_counter() - t0) / len(mazes) * 1e3

    sizes = memory.nbytes()
    row["payload_bytes_per_episode"] = payload / n
    row["key_index_bytes_per_episode"] = sizes["keys"] / n
    row["oracle_bytes_per_episode"] = sizes["oracle"] / n
    row["bytes_per_episode"] = (
        row["payload_bytes_per_episode"]
        + row["key_index_bytes_per_episode"]
        + row["oracle_bytes_per_episode"]
        + (memory.maze_ids.nbytes + memory.placements.nbytes + memory.seen.nbytes) / n
    )
    row["max_rss_mb"] = rss_mb()

    if memory.built_index == "ivf" and args.sweep:
        key_index = memory._keys  # noqa: SLF001 - the benchmark tunes the live index
        ivf, default_params = key_index._index, key_index.params
        row["default_nprobe"] = int(ivf.nprobe)
        sweep = []
        for nprobe in (8, 16, 32, 64, 128, 256):
            if nprobe > ivf.nlist:
                break
            key_index.params = dataclasses.replace(default_params, nprobe=nprobe)
            t0, c0 = time.perf_counter(), time.process_time()
            ids = np.stack([memory.search(q, k)[1] for q in queries])
            ms = (time.perf_counter() - t0) / len(queries) * 1e3
            sweep.append(
                {
                    "nprobe": nprobe,
                    "single_ms": ms,
                    "single_cpu_ms": (time.process_time() - c0) / len(queries) * 1e3,
                    "recall_at_8": recall(keys, queries, ids, ex_scores)[0],
                }
            )
        key_index.params = default_params
        row["ivf_nlist"] = int(ivf.nlist)
        row["nprobe_sweep"] = sweep
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--real", type=int, default=20000, help="real expert episodes generated")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--sigma", type=float, default=0.005, help="noise on tiled key copies")
    p.add_argument(
        "--data",
        default=None,
        help="glob of dataset files (pool*.npz, stream*.npz) to use instead of tiling",
    )
    p.add_argument("--threads", type=int, default=1, help="FAISS threads")
    p.add_argument("--index", default="auto")
    p.add_argument("--nprobe", type=int, default=None)
    p.add_argument("--sweep", action="store_true", help="IVF nprobe sweep")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    featurizer = DefaultFeaturizer(8)
    if args.data:
        files = sorted(glob.glob(args.data))
        chunks = file_source(files, featurizer)
        first = load_dataset(files[0])
        _, feat_s = timed(featurizer.episode_keys, first)
        real, speed, gen_s = first, {"source": f"{len(files)} files {args.data}"}, 0.0
    else:
        (real, speed), gen_s = timed(real_episodes, min(args.real, max(sizes)), 0)
        real_keys, feat_s = timed(featurizer.episode_keys, real)
        chunks = tiled_source(real, real_keys, args.sigma)
    q_eps = query_episodes(args.queries, 0, per_maze=16 if args.data else 4)
    queries = featurizer.query_keys(
        [RetrievalQuery(maze=e.maze, goal=int(e.goal_sequence[-1]), history=e) for e in q_eps]
    )
    header = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        "real_episodes": len(real) if not args.data else "all (files)",
        "generation_s": gen_s,
        **speed,
        "featurize_keys_per_s": len(real) / feat_s,
        "key_dim": featurizer.dim,
        "threads": args.threads,
        "sigma": args.sigma,
        "queries": len(queries),
    }
    print(json.dumps(header, indent=1))
    rows = []
    for n in sizes:
        row = bench_size(n, chunks, queries, args)
        rows.append(row)
        print(json.dumps(row), flush=True)

    print(
        "\n| episodes | index | add ep/s | FAISS ms/query | numpy ms/query | FAISS batch q/s "
        "| numpy batch q/s | recall@8 | oracle ms | bytes/episode |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['episodes']:,} | {r['index']} | {r['add_episodes_per_s']:,.0f} | "
            f"{r['faiss_single_ms']:.3f} | {r['numpy_single_ms']:.2f} | "
            f"{r['faiss_batch_qps']:,.0f} | {r['numpy_batch_qps']:,.0f} | "
            f"{r['recall_at_8']:.3f} | {r['oracle_query_ms']:.2f} | {r['bytes_per_episode']:,.0f} |"
        )
    if args.out:
        Path(args.out).write_text(json.dumps({"header": header, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
