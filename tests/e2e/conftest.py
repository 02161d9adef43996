"""The whole of Sada as a user runs it: `sada run` in a subprocess, driven over HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sada.processes import free_port
from tests.auth_helpers import stack_token


@dataclass
class Stack:
    proc: subprocess.Popen
    urls: dict[str, str]
    data_dir: Path
    output: list[str]

    def url(self, service: str, path: str) -> str:
        return self.urls[service] + path

    def bearer(self, role: str, district: int | None = None,
               department: str | None = None) -> dict[str, str]:
        """An Authorization header signed with the secret `sada run` keeps in its data dir."""
        return stack_token(self.data_dir, role, district, department)


def start_stack(data_dir: Path, *, demo: bool, env: dict[str, str] | None = None) -> Stack:
    extra = env or {}
    env = {**os.environ, "SADA_DATA_DIR": str(data_dir),
           "SADA_INTAKE_PORT": str(free_port()), "SADA_ROUTING_PORT": str(free_port()),
           "SADA_REPORTING_PORT": str(free_port()), "SADA_EMBEDDED_MONGO_PORT": str(free_port()),
           # No wall clock: time moves only when a test ticks it (POST /clock/ticks), so the
           # log changes only when a test writes.
           "SADA_CLOCK_SECONDS": "0"}
    env.pop("SADA_MONGO_URL", None)
    env.update(extra)
    argv = [sys.executable, "-m", "sada.cli", "run", "--demo" if demo else "--no-demo"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    output: list[str] = []
    urls: dict[str, str] = {}
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        output.append(line)
        m = re.match(r"\s+(intake|routing|reporting)\s+(http://\S+)", line)
        if m:
            urls[m.group(1)] = m.group(2)
        if "Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    if len(urls) != 3:
        proc.kill()
        raise RuntimeError("sada run did not start:\n" + "".join(output))
    return Stack(proc, urls, data_dir, output)


def stop_stack(stack: Stack) -> None:
    stack.proc.send_signal(signal.SIGINT)
    try:
        stack.proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(stack.proc.pid, signal.SIGKILL)
        raise


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("sada"), demo=True)
    yield s
    stop_stack(s)


def wait_for(check, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s
