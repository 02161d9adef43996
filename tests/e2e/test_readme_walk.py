"""The README's walk, run as printed against a fresh `sada run` with its demo data, so the
README cannot drift from what Sada does."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.e2e.conftest import start_stack, stop_stack

ROOT = Path(__file__).resolve().parents[2]


def walk() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- walk:.*?-->\n```sh\n(.*?)\n```", readme, re.S)
    assert found, "README.md has no walk block"
    return found.group(1)


def test_the_readme_walk_runs_as_printed(tmp_path):
    assert (ROOT / ".venv" / "bin" / "sada").exists(), "the walk runs .venv/bin/sada: make test"
    stack = start_stack(tmp_path, demo=True)
    try:
        env = {**os.environ, "SADA_DATA_DIR": str(stack.data_dir)}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", walk()], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        stop_stack(stack)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    lines = out.splitlines()
    assert lines[0].startswith("21/transport ")  # routed, with its acknowledge deadline
    assert int(lines[1]) >= 1  # in the queue
    assert lines[2:4] == ["acknowledged", "resolved"]
    assert lines[4:6] == ["DemandSubmitted", "DemandRouted"]
    assert "DemandResolved" in lines
    assert re.search(r"\bOK\b|intact|no record differs", out, re.I), out
