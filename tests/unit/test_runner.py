"""The embedded runner's restarts and port checks, without starting real servers."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from sada import embedded, stack
from sada.embedded import FAILING_AFTER, Embedded, _Restarts
from sada.processes import port_bindable
from services.config import Settings


@dataclass
class FakeProcess:
    """A process that is up, or that dies on every start (`broken`)."""

    name: str
    broken: bool = False
    alive: bool = True
    starts: int = 0
    log_path: Path = Path("x.log")
    pid: int = 4242
    returncode: int | None = 1

    @property
    def proc(self) -> FakeProcess:
        return self

    def start(self, timeout: float = 30.0) -> FakeProcess:
        self.starts += 1
        if self.broken:
            self.alive = False
            raise RuntimeError(f"{self.name} did not start")
        self.alive = True
        return self


def runner(tmp_path, *procs: FakeProcess) -> tuple[Embedded, list[str]]:
    said: list[str] = []
    app = Embedded(Settings(data_dir=tmp_path), said.append)
    for proc in procs:
        app.procs.append(proc)  # type: ignore[arg-type]
        app._health[proc.name] = _Restarts(up_since=0.0)
    return app, said


def test_a_process_that_keeps_failing_is_reported_and_the_others_run_on(tmp_path):
    healthy = FakeProcess("intake")
    broken = FakeProcess("reporting-projector", broken=True, alive=False)
    app, said = runner(tmp_path, healthy, broken)

    now = 0.0
    for _ in range(40):  # about ten minutes of rounds, one every 15 s
        app.keep_alive(now)
        now += 15.0

    assert healthy.alive and healthy.starts == 0  # never touched
    assert FAILING_AFTER <= broken.starts < 40  # retried, but with backoff, not every round
    assert any("KEEPS FAILING" in line and "reporting-projector" in line for line in said)
    record = stack.read(app.settings)
    assert record is not None and record["processes"]["reporting-projector"]["failing"]
    assert not record["processes"]["intake"]["failing"]


def test_a_dead_process_is_restarted_at_once_the_first_time(tmp_path):
    worker = FakeProcess("routing-worker", alive=False)
    app, said = runner(tmp_path, worker)
    app.keep_alive(100.0)
    assert worker.alive and worker.starts == 1
    assert not any("KEEPS FAILING" in line for line in said)


def test_a_port_our_own_closed_connection_holds_counts_as_free():
    """A server that closed a connection first keeps it in TIME_WAIT for a minute; a real
    server binds with SO_REUSEADDR and so can listen there, and the check must agree."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server's side closes first: TIME_WAIT on `port`
        client.close()
    assert port_bindable(port)


def test_a_port_someone_listens_on_is_busy():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert not port_bindable(listener.getsockname()[1])


def test_a_moved_port_is_said_loudly_and_recorded(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        said: list[str] = []
        wanted = Settings(data_dir=tmp_path, intake_port=busy)
        settings = embedded.resolve_ports(wanted, said.append)
    assert settings.intake_port != busy
    assert said and said[0].startswith("WARNING: port")
    assert embedded.MOVED["intake"] == f"{busy} -> {settings.intake_port}"


def test_readyz_says_which_process_keeps_failing(tmp_path):
    from services.readiness import embedded_processes

    check = embedded_processes(tmp_path / "stack.json")
    assert check() is None  # no runner here: nothing to say
    broken = FakeProcess("reporting-projector", broken=True, alive=False)
    app, _ = runner(tmp_path, FakeProcess("intake"), broken)
    for round_ in range(10):
        app.keep_alive(round_ * 60.0)
    assert check() == ("keeps failing under sada run: reporting-projector (see its log)")
