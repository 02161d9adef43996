"""End-to-end demands per second on the embedded default: HTTP submit until the demand is
visible in its district department's queue, beside a bare Flask endpoint taking the same JSON
under the same gunicorn settings, measured in the same run (target `e2e-ratio`). Where the
CPU went is printed too: each process's CPU time per demand over the timed run (from /proc,
children included), the bench's own client among them. The same run is then made with the
server's part removed (the projector writing into `bench/sink.py`'s database, which keeps
nothing), the figure the issue asks for where SecantusDB stops a target."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path

import requests

from bench.sink_projector import read_count
from bench.targets import Target
from sada.embedded import Embedded, child_env
from sada.processes import ManagedProcess, free_port
from services import auth, config
from services.privacy.crypto import new_master_key

BODY = {
    "requester": {"kind": "citizen"}, "channel": "line_137", "district": 22,
    "neighbourhood": "شهرک دریا", "category": "transport",
    "title": "ترافیک بلوار اصلی", "description": "صف طولانی خودروها در ساعات اوج.",
}


def post_all(url: str, n: int, clients: int, headers: dict[str, str] | None = None) -> float:
    """POST n bodies with `clients` concurrent connections; returns elapsed seconds."""
    sessions = [requests.Session() for _ in range(clients)]
    for session in sessions:
        session.headers.update(headers or {})

    def one(i: int) -> None:
        r = sessions[i % clients].post(url, json=BODY)
        if r.status_code != 202:
            raise RuntimeError(f"{url}: {r.status_code} {r.text}")

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - start


def queue_size(reporting: str, headers: dict[str, str]) -> int:
    r = requests.get(f"{reporting}/queues/22/transport", params={"limit": 1}, headers=headers)
    r.raise_for_status()
    return r.json()["total"]


def _bearer(secret: str, role: str, district: int, department: str | None = None
            ) -> dict[str, str]:
    token = auth.issue(secret, role=role, subject=f"bench-{role}", district=district,
                       department=department, ttl=timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and of its children alive now (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_by_process(stack: Embedded) -> dict[str, float]:
    out = {proc.name: cpu_seconds(proc.proc.pid) for proc in stack.procs if proc.alive}
    me = os.times()
    out["the bench's client"] = me.user + me.system
    return out


def rate_without(cpu: dict[str, float], demands: int, cores: int, left_out: str) -> float:
    """Demands per second the other processes' CPU per demand would allow on `cores` fully
    used, with `left_out`'s CPU taken away: an upper bound worked out from the CPU measured
    (the pipeline never uses every core all the time), not a measurement."""
    rest = sum(spent for name, spent in cpu.items() if name != left_out)
    if demands <= 0 or rest <= 0:
        raise ValueError("no CPU measured to work from")
    return cores * demands / rest


def embedded_settings(data_dir: Path) -> config.Settings:
    """The embedded default on free ports, with its own secret and no write rate limit (the
    bench is the one client, on purpose)."""
    return config.load({}).with_(
        data_dir=data_dir, intake_port=free_port(), routing_port=free_port(),
        reporting_port=free_port(), embedded_mongo_port=free_port(),
        auth_secret=secrets.token_urlsafe(48), rate_limit_per_minute=0,
        master_key=new_master_key())


def desk_tokens(settings: config.Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Headers of district 22's intake clerk and its transport staff."""
    return (_bearer(settings.auth_secret, auth.CLERK, 22),
            _bearer(settings.auth_secret, auth.STAFF, 22, "transport"))


def timed(stack: Embedded, intake: str, clerk: dict[str, str], demands: int, clients: int,
          visible: Callable[[], int]) -> tuple[float, float, dict[str, float]]:
    """Submit `demands` and wait until `visible()` counts them all: the seconds to submit,
    the seconds until all were visible, and each process's CPU meanwhile."""
    before, cpu_before = visible(), cpu_by_process(stack)
    start = time.perf_counter()
    submit_seconds = post_all(f"{intake}/demands", demands, clients, clerk)
    while visible() < before + demands:
        time.sleep(0.02)
    e2e_seconds = time.perf_counter() - start
    cpu = {name: spent - cpu_before.get(name, 0.0)
           for name, spent in cpu_by_process(stack).items()}
    return submit_seconds, e2e_seconds, cpu


def end_to_end(demands: int, clients: int, sink: bool) -> tuple[float, float, dict[str, float]]:
    """`timed` on a fresh embedded stack after a warm-up; with `sink`, its projector writes
    into `bench/sink.py`'s database (`bench/sink_projector.py`) and a demand counts as
    visible once the write that puts it in its queue is encoded."""
    with tempfile.TemporaryDirectory(prefix="sada-bench-") as tmp:
        settings = embedded_settings(Path(tmp))
        clerk, staff = desk_tokens(settings)
        stack = Embedded(settings, say=lambda s: None)
        try:
            settings = stack.start_mongo()
            if sink:
                stack.start_services(without={"reporting-projector"})
                count_file = Path(tmp) / "in-queue"
                stack.add(ManagedProcess(
                    "sink-projector", [sys.executable, "-m", "bench.sink_projector",
                                       str(count_file), "22/transport"],
                    env=child_env(settings), log_path=Path(tmp) / "sink-projector.log"))
                visible: Callable[[], int] = partial(read_count, count_file)
            else:
                stack.start_services()
                reporting = settings.service_url("reporting")
                visible = partial(queue_size, reporting, staff)
            intake = settings.service_url("intake")
            post_all(f"{intake}/demands", 50, clients, clerk)  # connections, imports, caches
            while visible() < 50:
                time.sleep(0.05)
            return timed(stack, intake, clerk, demands, clients, visible)
        finally:
            stack.stop()


def reference_rate(demands: int, clients: int) -> float:
    """Requests per second of the bare Flask endpoint, under the same gunicorn settings."""
    with tempfile.TemporaryDirectory(prefix="sada-bench-") as tmp:
        settings = embedded_settings(Path(tmp))
        port = free_port()
        reference = ManagedProcess(
            "reference", [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                          "--config", "python:services.gunicorn_conf",
                          "bench.reference_app:create_app()"],
            env=child_env(settings), port=port)
        try:
            reference.start()
            url = f"http://127.0.0.1:{port}/demands"
            post_all(url, 50, clients)  # warm up
            return demands / post_all(url, demands, clients)
        finally:
            reference.stop()


def print_cpu(cpu: dict[str, float], demands: int) -> None:
    print("  CPU per demand over the timed run: " + ", ".join(
        f"{name} {1000 * spent / demands:.2f} ms" for name, spent in
        sorted(cpu.items(), key=lambda item: -item[1]) if spent >= 0.005 * demands / 1000))


def section(quick: bool, demands: int = 2000, clients: int = 8) -> list[Target]:
    demands = 300 if quick else demands
    ref_rate = reference_rate(demands, clients)
    submit_seconds, e2e_seconds, cpu = end_to_end(demands, clients, sink=False)
    _, sink_seconds, sink_cpu = end_to_end(demands, clients, sink=True)

    submit_rate = demands / submit_seconds
    e2e_rate = demands / e2e_seconds
    sink_rate = demands / sink_seconds
    print(f"demands: {demands}, concurrent clients: {clients}, embedded default "
          f"(SQLite log, SecantusDB read models)")
    print(f"reference  bare Flask endpoint, same JSON      {ref_rate:8.0f} req/s")
    print(f"intake     HTTP submit, durably in the log     {submit_rate:8.0f} demands/s"
          f"   ratio to reference {submit_rate / ref_rate:.2f}")
    print(f"end to end HTTP submit -> visible in its queue {e2e_rate:8.0f} demands/s"
          f"   ratio to reference {e2e_rate / ref_rate:.2f}")
    print_cpu(cpu, demands)
    cores = os.cpu_count() or 1
    everything = rate_without(cpu, demands, cores, "")
    print(f"  the CPU measured allows at most {everything:.0f} demands/s on {cores} cores fully "
          f"used ({e2e_rate / everything:.0%} reached)")
    print(f"end to end, the server's part removed         {sink_rate:8.0f} demands/s"
          f"   ratio to reference {sink_rate / ref_rate:.2f}")
    print("  (the same stack; the projector writes into a database that encodes each write as "
          "the driver would and keeps nothing: bench/sink_projector.py)")
    print_cpu(sink_cpu, demands)
    return [Target("e2e-ratio", e2e_rate / ref_rate,
                   f"end to end {e2e_rate:.0f}/s, bare Flask {ref_rate:.0f}/s",
                   server_removed=sink_rate / ref_rate)]
