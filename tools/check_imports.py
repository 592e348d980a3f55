"""The house rules for imports, checked over the source with ``ast`` (nothing is imported).

    python tools/check_imports.py          # prints the floors, any breach, the local imports

Three rules, each one a user or a newcomer relies on:

1. ``latent_gridworld`` (the environment package) never names ``agents``: the env installs and
   runs without the agents half.
2. No import circle among module-level imports: every module can be read (and imported) after
   the modules it names, never in the middle of them.
3. Floors: each room (a module or a group of modules) imports only the rooms :data:`ALLOWED`
   lists for it, at module level or inside a function. The floors, bottom up:

   ===== ========================================= ==========================================
   floor rooms                                     what lives there
   ===== ========================================= ==========================================
   0     ``core``, ``kwargs``, ``integrity``       pure rules: config, mazes, tasks, the step
   1     ``encoders``, ``fileio``                  observations from the world; safe file I/O
   2     ``rendering``                             the pygame window (pygame only when shown)
   3     ``envs``                                  the Gymnasium env
   4     ``registration``, ``vector``              ids; the batched env
   5     ``episode``, ``contract``                 recorded episodes, their recorder; the contract
   6     ``arrays``, ``expert``                    columnar episodes, ``.npz`` files; the expert
   7     ``datasets``, ``recordings``, ``sb3``,    expert datasets; play's files; the SB3 adapter;
         ``testing``                               test helpers
   8     ``latent_gridworld`` (its ``__init__``)   the package's front door
   9     ``play``                                  the pygame player
   10    ``agents`` (``__init__``), ``protocol``   the agent interface
   11    ``agents.memory``, ``agents.evaluation``  the episodic memory; the closed-loop evaluator
   12    ``agents.reference``, ``agents.progress`` scripted reference policies; job progress
   13    ``agents.bc``, ``agents.rl``              the paired agents (training scripts: leaves)
   14    ``agents.distributed``                    Ray jobs
   15    ``agents.experiments``                    the experiments (``benchmark``)
   16    ``agents.cli``, ``agents.benchmark``      the console script; the old module name
   ===== ========================================= ==========================================

Imports guarded by ``if TYPE_CHECKING:`` never run; they count for rule 1 only. Function-local
imports count for rules 1 and 3 and are listed apart: most of them keep torch, pygame or FAISS
out of ``import latent_gridworld`` (a test checks that).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("latent_gridworld", "agents")

# room -> the rooms it may import (besides itself): the table above, one floor at a time. A
# module's room is the longest prefix of its dotted name found here (``latent_gridworld`` alone:
# the package's ``__init__``; ``agents``: the agents package's ``__init__``).
_F: list[set[str]] = [
    {"latent_gridworld.core", "latent_gridworld.kwargs", "latent_gridworld.integrity"},
    {"latent_gridworld.encoders", "latent_gridworld.fileio"},
    {"latent_gridworld.rendering"},
    {"latent_gridworld.envs"},
    {"latent_gridworld.registration", "latent_gridworld.vector"},
    {"latent_gridworld.episode", "latent_gridworld.contract"},
    {"latent_gridworld.arrays", "latent_gridworld.expert"},
    {
        "latent_gridworld.datasets",
        "latent_gridworld.recordings",
        "latent_gridworld.sb3",
        "latent_gridworld.testing",
    },
    {"latent_gridworld"},
    {"latent_gridworld.play"},
    {"agents", "agents.protocol"},
    {"agents.memory", "agents.evaluation"},
    {"agents.reference", "agents.progress"},
    {"agents.bc", "agents.rl"},
    {"agents.distributed"},
    {"agents.experiments"},
    {"agents.cli", "agents.benchmark"},
]


def _below(floor: int) -> set[str]:
    return set().union(*_F[:floor])


ALLOWED: dict[str, set[str]] = {r: _below(i) for i, rooms in enumerate(_F) for r in rooms}
# narrower than "every floor below" where a room is pure
ALLOWED["latent_gridworld.core"] = set()
ALLOWED["latent_gridworld.kwargs"] = set()
ALLOWED["latent_gridworld.integrity"] = set()
ALLOWED["latent_gridworld.encoders"] = {"latent_gridworld.core"}
ALLOWED["latent_gridworld.fileio"] = {"latent_gridworld.integrity"}
ALLOWED["latent_gridworld.rendering"] = {"latent_gridworld.core", "latent_gridworld.encoders"}
ALLOWED["latent_gridworld.envs"] = {
    "latent_gridworld.core",
    "latent_gridworld.encoders",
    "latent_gridworld.rendering",
}


@dataclass(frozen=True)
class Import:
    """One import statement of a project module that names another project module."""

    source: str  # dotted name of the importing module
    target: str  # dotted name of the imported project module
    line: int
    where: str  # "module", "function" or "type-checking"

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the two packages: dotted name -> file."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Import nodes below ``node`` with where they run (function bodies run later)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, where
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, "function" if where == "module" else where)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), "type-checking")
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), where)
        else:
            yield from _walk(child, where)


def imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of one project module by another, resolved to the imported module."""
    out = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node, where in _walk(ast.parse(path.read_text(), str(path)), "module"):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = name.split(".")
                    parts = parts[: len(parts) - node.level + (1 if is_package else 0)]
                    base = ".".join([*parts, base] if base else parts)
                # ``from pkg import sub`` imports the module ``pkg.sub`` when there is one
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in dict.fromkeys(targets):
                if target.split(".")[0] in PACKAGES:
                    out.append(Import(name, _known(target, modules), node.lineno, where))
    return out


def _known(target: str, modules: dict[str, Path]) -> str:
    """The longest prefix of ``target`` that is a project module (``import a.b.c`` names a.b.c)."""
    parts = target.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts) or target


def room(module: str) -> str:
    """The room of a module: the longest prefix of its name in :data:`ALLOWED`."""
    parts = module.split(".")
    while parts:
        if ".".join(parts) in ALLOWED:
            return ".".join(parts)
        parts.pop()
    raise KeyError(f"{module} is in no room of ALLOWED: add it to the floors table")


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module (or a module importing itself)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph[v]:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


@dataclass
class Report:
    """What :func:`check` found; ``ok`` when no rule is broken."""

    env_names_agents: list[Import]
    module_cycles: list[list[str]]
    upward: list[Import]
    local: list[Import]
    local_cycles: list[list[str]]  # circles closed only by function-local imports (allowed)

    @property
    def ok(self) -> bool:
        """No rule broken (function-local imports and their circles are allowed)."""
        return not (self.env_names_agents or self.module_cycles or self.upward)


def check(root: Path = ROOT) -> Report:
    """Apply the three rules to the tree under ``root`` (the repository, or a copy of it)."""
    modules = module_files(root)
    found = imports(modules)
    running = [i for i in found if i.where != "type-checking"]
    return Report(
        env_names_agents=[
            i
            for i in found
            if i.source.split(".")[0] == "latent_gridworld" and i.target.split(".")[0] == "agents"
        ],
        module_cycles=cycles([i for i in running if i.where == "module" and i.source != i.target]),
        upward=[
            i
            for i in running
            if room(i.target) != room(i.source) and room(i.target) not in ALLOWED[room(i.source)]
        ],
        local=[i for i in running if i.where == "function"],
        local_cycles=[
            group
            for group in cycles([i for i in running if i.source != i.target])
            if group not in cycles([i for i in running if i.where == "module"])
        ],
    )


def main() -> int:
    """Print the report; exit status 1 when a rule is broken."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    report = check(root)
    print(f"{len(module_files(root))} modules in {', '.join(PACKAGES)}")
    sections: list[tuple[str, list[str]]] = [
        ("latent_gridworld naming agents", [str(i) for i in report.env_names_agents]),
        ("module-level import circles", [" <-> ".join(g) for g in report.module_cycles]),
        (
            "imports above their floor",
            [f"{i}  ({room(i.source)} may not import {room(i.target)})" for i in report.upward],
        ),
        (
            "circles closed by function-local imports (allowed, listed)",
            [" <-> ".join(g) for g in report.local_cycles],
        ),
        (
            "function-local imports of project modules (allowed, listed)",
            [str(i) for i in report.local],
        ),
    ]
    for title, lines in sections:
        print(f"{title}: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
