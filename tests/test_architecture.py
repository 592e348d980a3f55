"""The house rules for imports (tools/check_imports.py): no upward import, no import circle.

The floors table lives in the checker (``ALLOWED``, documented in its docstring and in
docs/architecture.md); these tests run it on the tree and on small planted trees, so that a
checker that stopped seeing imports would fail here too.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_imports", REPO / "tools/check_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_imports"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check_imports = _checker()


def test_the_tree_keeps_the_house_rules() -> None:
    report = check_imports.check(REPO)
    assert [str(i) for i in report.env_names_agents] == []
    assert report.module_cycles == []
    assert [str(i) for i in report.upward] == []


def test_every_module_has_a_room() -> None:
    for name in check_imports.module_files(REPO):
        check_imports.room(name)  # raises KeyError naming the module that has none


def test_the_floors_form_no_circle() -> None:
    for room, allowed in check_imports.ALLOWED.items():
        for other in allowed:
            assert room not in check_imports.ALLOWED[other], f"{room} and {other} allow each other"


def test_core_imports_nothing_else_of_the_package() -> None:
    assert check_imports.ALLOWED["latent_gridworld.core"] == set()
    assert check_imports.ALLOWED["latent_gridworld.encoders"] == {"latent_gridworld.core"}


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("latent_gridworld", "agents"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_a_planted_upward_import_and_circle_are_found(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "latent_gridworld/core/__init__.py": "",
            "latent_gridworld/core/world.py": "from latent_gridworld.envs import gridworld\n",
            "latent_gridworld/envs/__init__.py": "",
            "latent_gridworld/envs/gridworld.py": "from latent_gridworld.core import world\n",
            "latent_gridworld/play.py": "def f():\n    import agents.benchmark\n",
            "agents/benchmark.py": "",
        },
    )
    report = check_imports.check(root)
    planted = ["latent_gridworld.play:2 -> agents.benchmark"]
    assert [str(i) for i in report.env_names_agents] == planted
    circle = ["latent_gridworld.core.world", "latent_gridworld.envs.gridworld"]
    assert report.module_cycles == [circle]
    assert [str(i) for i in report.upward] == [
        "latent_gridworld.core.world:1 -> latent_gridworld.envs.gridworld",
        "latent_gridworld.play:2 -> agents.benchmark",
    ]


def test_type_checking_and_function_local_imports_are_told_apart(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "agents/bc/__init__.py": "",
            "agents/bc/agent.py": "from . import train\n",
            "agents/bc/train.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from agents.bc.agent import X\n"
                "def run():\n    from agents.bc import agent\n"
            ),
        },
    )
    report = check_imports.check(root)
    assert report.ok and report.module_cycles == []
    assert report.local_cycles == [["agents.bc.agent", "agents.bc.train"]]
    assert [str(i) for i in report.local] == ["agents.bc.train:5 -> agents.bc.agent"]


def test_the_script_prints_its_report_and_exits_zero_on_the_tree() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "tools/check_imports.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "module-level import circles: 0" in out.stdout
    assert "imports above their floor: 0" in out.stdout


@pytest.mark.parametrize("heavy", ["torch", "pygame", "faiss"])
def test_import_latent_gridworld_stays_light(heavy: str) -> None:
    code = f"import sys, latent_gridworld; print({heavy!r} in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"


def test_the_console_script_lives_on_the_top_floor_and_dispatches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module_name, _, function = scripts["latent-gridworld"].partition(":")
    assert check_imports.room(module_name) == "agents.cli"
    main = getattr(importlib.import_module(module_name), function)
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.split("\n")[0] == (
        "usage: latent-gridworld {play,generate,benchmark} [options]"
    )
    assert main(["nope"]) == 2
    assert "unknown command 'nope'; choose one of play, generate, benchmark" in (
        capsys.readouterr().err
    )
