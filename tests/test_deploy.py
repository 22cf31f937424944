"""How the app is served: ``bash run.sh app`` binds to localhost unless asked, and the Streamlit config.

``run.sh`` runs for real, with stand-ins for the programs it starts (the venv's ``python`` and
``streamlit``, and ``cmake``/``g++``, which it only looks for): each records its arguments.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from streamlit.config import ShowErrorDetailsConfigOptions

ROOT = Path(__file__).resolve().parent.parent


def run_app(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``bash run.sh app ARGS`` with recording stand-ins; returns the run and the recorded commands."""
    log = tmp_path / "commands.log"
    venv_bin, tools = tmp_path / "venv" / "bin", tmp_path / "tools"
    for folder, names in ((venv_bin, ("python", "streamlit")), (tools, ("cmake", "g++"))):
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            stub = folder / name
            stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
            stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    env |= {"VENV": str(tmp_path / "venv"), "PATH": f"{tools}{os.pathsep}{env['PATH']}"}
    done = subprocess.run(["bash", str(ROOT / "run.sh"), "app", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    return done, log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("args", "address"), [((), "127.0.0.1"), (("--network",), "0.0.0.0")])
def test_run_sh_serves_localhost_unless_asked_for_the_network(tmp_path, args, address):
    done, commands = run_app(tmp_path, *args)

    assert done.returncode == 0, done.stderr
    assert commands[-1] == f"streamlit run streamlit_app.py --server.port 8501 --server.address {address}"
    assert "python -m ingest -q" in commands  # the sample index is built before the app starts
    if not args:
        assert "open http://localhost:8501 (this computer only; --network serves the LAN)" in done.stdout


def test_run_sh_refuses_an_unknown_app_option_before_installing(tmp_path):
    done, commands = run_app(tmp_path, "--public")

    assert done.returncode == 2
    assert done.stderr == "usage: bash run.sh app [--network]\n"
    assert commands == []


def test_streamlit_config_hides_tracebacks_and_the_unguarded_table_export():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())

    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE == "none"
    assert config["client"]["disableDataExport"] is True  # tables' own CSV export writes formulas as formulas
    assert "address" not in config["server"]  # Community Cloud chooses its own; run.sh passes localhost
