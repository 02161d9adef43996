"""Slow clients cannot starve the others: intake under gunicorn with the embedded default
settings (services/gunicorn_conf.py) keeps answering `/healthz` and valid submissions while
300 idle TCP connections (connected, nothing sent) and 40 request bodies trickled a byte at a
time are held open against it. And a connection that was answered `413` (body too large, not
read by the application) stays usable for the client's next request."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pymongo import MongoClient

from reporting.waits import PER_SUBJECT
from sada.embedded import service_process
from sada.processes import ManagedProcess, free_port
from services.web import MAX_BODY_BYTES
from tests.auth_helpers import bearer
from tests.faults.stack import demand, settings_for

IDLE, TRICKLED = 300, 40
ANSWER_WITHIN = 5.0  # seconds a valid request may take while the connections are held
BODY_BYTES = 4_000  # declared length of each trickled body; far more than is ever sent


@pytest.fixture
def db_name(mongo_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(mongo_url) as client:
        for db in (name, f"{name}_keys"):
            client.drop_database(db)


class Attack:
    """Idle and slowly trickling connections held against one port until `stop`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []
        self.trickling: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sockets.append(sock)
        return sock

    def start(self, idle: int, trickled: int) -> Attack:
        for _ in range(idle):
            self._connect()
        head = (f"POST /demands HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {BODY_BYTES}\r\n"
                f"Authorization: {bearer('headquarters')['Authorization']}\r\n\r\n").encode()
        for _ in range(trickled):
            sock = self._connect()
            sock.sendall(head + b"{")
            self.trickling.append(sock)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        """One byte of body on every trickling connection each second."""
        while not self._stop.wait(1.0):
            for sock in self.trickling:
                with contextlib.suppress(OSError):  # the server hung up on it: fine
                    sock.send(b" ")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def intake(tmp_path: Path, mongo_url: str, db_name: str) -> Iterator[ManagedProcess]:
    settings = settings_for(tmp_path, mongo_url, db_name)
    logs = tmp_path / "logs"
    logs.mkdir()
    process = service_process("intake", settings, logs).start(timeout=60)
    yield process
    process.stop()


@pytest.fixture
def intake_port(intake: ManagedProcess) -> int:
    assert intake.port is not None
    return intake.port


def what_intake_said(intake: ManagedProcess, lines: int = 20) -> str:
    """Whether intake still runs, and the end of its log: for a failure's message."""
    said = intake.log_path.read_text(errors="replace").splitlines()[-lines:] \
        if intake.log_path else []
    return f"intake {'running' if intake.alive else 'exited'}; its log ends:\n" + "\n".join(said)


def read_answer(sock: socket.socket) -> tuple[str, bytes]:
    """One HTTP answer from the socket: its head as text and its body ("" if it hung up)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return "", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith("content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.decode("latin-1"), body


def test_a_connection_answered_413_stays_usable(intake_port: int) -> None:
    body = b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}"
    with socket.create_connection(("127.0.0.1", intake_port), timeout=10) as sock:
        sock.sendall((f"POST /demands HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                      f"Authorization: {bearer('headquarters')['Authorization']}\r\n\r\n"
                      ).encode() + body)
        head, _ = read_answer(sock)
        assert head.startswith("HTTP/1.1 413"), head
        if "connection: close" in head.lower():  # said so: the client will not reuse it
            assert sock.recv(1) == b""
            return
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, answer = read_answer(sock)
        assert head.startswith("HTTP/1.1 200"), f"keep-alive promised, next request got {head!r}"
        assert answer == b'{"status":"ok"}\n'


def test_idle_and_trickling_connections_do_not_starve_valid_requests(
        intake: ManagedProcess, intake_port: int, db_name: str) -> None:
    base = f"http://127.0.0.1:{intake_port}"
    attack = Attack(intake_port)
    try:
        assert requests.get(f"{base}/healthz", timeout=ANSWER_WITHIN).status_code == 200
        attack.start(IDLE, TRICKLED)
        time.sleep(2.0)  # let the workers accept and take up every held connection
        slow: list[str] = []
        for i in range(3):  # over several seconds: answering must not depend on luck
            for what, call in (
                    ("healthz", lambda: requests.get(f"{base}/healthz", timeout=ANSWER_WITHIN)),
                    ("submission", lambda i=i: requests.post(
                        f"{base}/demands", json=demand(i), timeout=ANSWER_WITHIN,
                        headers={**bearer("headquarters"),
                                 "Idempotency-Key": f"slow-{db_name}-{i}"}))):
                began = time.monotonic()
                try:
                    answer = call()
                except requests.RequestException as error:
                    slow.append(f"{what} #{i}: {type(error).__name__} after "
                                f"{time.monotonic() - began:.1f} s: {error}")
                    continue
                assert answer.status_code in (200, 202), (what, answer.status_code, answer.text)
            time.sleep(1.0)
        assert not slow, (f"with {IDLE} idle and {TRICKLED} trickling connections held: "
                          f"{slow}\n{what_intake_said(intake)}")
    finally:
        attack.stop()


def test_many_waiting_reads_neither_freeze_reporting_nor_pile_up(
        tmp_path: Path, mongo_url: str, db_name: str) -> None:
    """Forty reads waiting for a position far ahead, with one token: all but a few per worker
    are refused at once (429), and `/healthz` and another token's reads answer meanwhile."""
    settings = settings_for(tmp_path, mongo_url, db_name, reporting_port=free_port())
    logs = tmp_path / "logs"
    logs.mkdir()
    reporting = service_process("reporting", settings, logs).start(timeout=60)
    base = f"http://127.0.0.1:{settings.reporting_port}"
    attacker = bearer("headquarters", subject="many-waits")
    statuses: list[int] = []
    lock = threading.Lock()

    def wait_far_ahead() -> None:
        try:
            status = requests.get(f"{base}/demands", params={"after": "0:99999999", "wait": 30},
                                  headers=attacker, timeout=60).status_code
        except requests.RequestException:  # cut off when the service stops at the end
            status = 0
        with lock:
            statuses.append(status)

    readers = [threading.Thread(target=wait_far_ahead, daemon=True) for _ in range(TRICKLED)]
    try:
        for reader in readers:
            reader.start()
        time.sleep(8.0)
        with lock:
            refused = statuses.count(429)
        # 2 workers (services/gunicorn_conf.py) of PER_SUBJECT slots each
        assert refused >= TRICKLED - 2 * PER_SUBJECT, statuses
        assert requests.get(f"{base}/healthz", timeout=ANSWER_WITHIN).status_code == 200
        other = requests.get(f"{base}/demands", headers=bearer("headquarters"),
                             timeout=ANSWER_WITHIN)
        assert other.status_code == 200, other.text
    finally:
        reporting.stop()
