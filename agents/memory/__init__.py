"""Episodic memory: whole past episodes, FAISS indexes over their keys, and retrieval modes.

Importing this package sets ``OMP_WAIT_POLICY=PASSIVE`` (if unset) before FAISS loads and
defaults FAISS to one OpenMP thread, so it runs beside torch without the two OpenMP runtimes
spinning against each other (see ``docs/memory.md``).

>>> import numpy as np
>>> from latent_gridworld.datasets import generate_dataset
>>> memory = EpisodicMemory(n_object_types=8)
>>> ids = memory.extend(generate_dataset(episodes=50, seed=0))
>>> retriever = make_retriever("oracle", memory, n_relevant=1, n_distractors=2)
>>> query = RetrievalQuery(maze=memory[0].maze, goal=int(memory[0].goal_sequence[0]))
>>> episodes = retriever.retrieve(query, k=3, rng=np.random.default_rng(0))
>>> len(episodes), any(e.maze == query.maze and e.seen_objects[query.goal] for e in episodes)
(3, True)
"""

from agents.memory._faiss import worker_context
from agents.memory.keys import (
    INDEX_KINDS,
    DefaultFeaturizer,
    Featurizer,
    IndexParams,
    KeyIndex,
    RetrievalQuery,
    maze_embedding,
)
from agents.memory.retrieval import (
    RETRIEVAL_MODES,
    KnnRetriever,
    NoRetriever,
    OracleRetriever,
    Retriever,
    make_retriever,
    trim,
    trim_steps,
)
from agents.memory.store import EpisodicMemory
from latent_gridworld.integrity import FileFormatError

__all__ = [
    "INDEX_KINDS",
    "RETRIEVAL_MODES",
    "DefaultFeaturizer",
    "EpisodicMemory",
    "Featurizer",
    "FileFormatError",
    "IndexParams",
    "KeyIndex",
    "KnnRetriever",
    "NoRetriever",
    "OracleRetriever",
    "RetrievalQuery",
    "Retriever",
    "make_retriever",
    "maze_embedding",
    "trim",
    "trim_steps",
    "worker_context",
]
