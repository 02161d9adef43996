"""Where a replay's time goes, by py-spy: the profiles behind docs/performance.md, by command.

    python -m bench.profile --events 100000                    # into SecantusDB: both sides
    python -m bench.profile --events 200000 --server-removed --gil

Writes a generated city's log (`bench/history.py`), then runs `sada replay`'s code
(`reporting.replay.replay`) in a child process under `py-spy record`. Into SecantusDB (started
for the run) a second py-spy samples the server at the same time. Without the server
(`--server-removed`) the replay writes into `bench/sink.py`'s database, which encodes every
write and keeps nothing. `--gil` keeps only the samples of the thread holding the interpreter's
lock: what a GIL-bound process spends its one core on.

It prints each process's sampled seconds (samples over the sampling rate, summed over threads)
and its largest shares by function, itself and with what it calls, and keeps py-spy's raw files
in `--out` (one line per stack: for a flame graph or another cut). Without `--gil` py-spy counts
a thread blocked in some calls (a socket's `recv`, a condition's wait) as running; with it the
seconds are those the process held its one core's worth of Python.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

RATE = 100  # samples per second
_ROOT = re.compile(r"^(process|thread) ")  # py-spy's per-process or per-thread first frame


@dataclass
class Profile:
    """py-spy's raw samples summed by function: alone (`own`) and with its callees (`within`)."""

    samples: int = 0
    own: Counter[str] = field(default_factory=Counter)
    within: Counter[str] = field(default_factory=Counter)

    def share(self, counted: int) -> float:
        return counted / self.samples if self.samples else 0.0


def read_raw(lines: Iterable[str]) -> Profile:
    """A profile from py-spy's `--format raw` lines: `frame;frame;…;frame count`, callers
    first. A frame counts once per stack within its callees (recursion is not doubled)."""
    profile = Profile()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not _ROOT.match(f)]
        if not frames:
            continue
        profile.samples += n
        profile.own[frames[-1]] += n
        for frame in set(frames):
            profile.within[frame] += n
    return profile


def report(name: str, profile: Profile, rate: int, top: int = 15, what: str = "busy"
           ) -> list[str]:
    """The lines printed for one process."""
    lines = [f"{name}: {profile.samples / rate:.1f} s {what} ({profile.samples} samples at "
             f"{rate}/s)", "  by function alone:"]
    lines += [f"    {profile.share(n):6.1%}  {frame}" for frame, n in profile.own.most_common(top)]
    lines.append("  with what it calls:")
    lines += [f"    {profile.share(n):6.1%}  {frame}"
              for frame, n in profile.within.most_common(top + 10)]
    return lines


def _py_spy() -> str:
    return str(Path(sys.executable).with_name("py-spy"))


def _spy_args(out: Path, rate: int, gil: bool) -> list[str]:
    return ["record", "--format", "raw", "--nolineno", "--rate", str(rate), "-o", str(out),
            *(["--gil"] if gil else [])]


def profile_replay(events: int, out: Path, *, server_removed: bool, gil: bool,
                   rate: int = RATE) -> dict[str, Profile]:
    """Write the log, replay it under py-spy (and sample the server), and read the profiles."""
    from bench.history import write_log
    from sada import processes

    out.mkdir(parents=True, exist_ok=True)
    log = out / "city.sqlite3"
    log.unlink(missing_ok=True)
    written = write_log(log, events)
    server = None if server_removed else processes.secantus(
        out / "secantus", processes.free_port(), out / "secantus.log").start()
    watcher = None
    try:
        target = "sink" if server is None else f"mongodb://127.0.0.1:{server.port}"
        if server is not None:
            assert server.proc is not None
            watcher = subprocess.Popen(
                [_py_spy(), *_spy_args(out / "server.raw", rate, gil), "--pid",
                 str(server.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        replayed = subprocess.run(
            [_py_spy(), *_spy_args(out / "replay.raw", rate, gil), "--", sys.executable,
             "-m", "bench.profile", "--replay-only", str(log), target],
            check=True, capture_output=True, text=True)
        stats = json.loads(next(line for line in replayed.stdout.splitlines()
                                if line.startswith("{")))
        if stats["events"] != written:
            raise RuntimeError(f"the replay read {stats['events']} of {written} events")
        print(f"replayed {stats['events']} events -> {stats['demands']} demands in "
              f"{stats['seconds']:.1f} s under py-spy", flush=True)
    finally:
        if watcher is not None:
            watcher.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
            _, err = watcher.communicate(timeout=60)
            if watcher.returncode not in (0, -signal.SIGINT):
                raise RuntimeError(f"py-spy on the server failed: {err.decode()[-500:]}")
        if server is not None:
            server.stop()
    profiles = {"replay": read_raw((out / "replay.raw").read_text().splitlines())}
    if not server_removed:
        profiles["secantusdb"] = read_raw((out / "server.raw").read_text().splitlines())
    return profiles


def _replay_only(log_path: str, target: str) -> None:
    """The profiled child: one replay of the log into `target` (a MongoDB URL, or `sink`)."""
    from pymongo import MongoClient

    from bench.sink import SinkDatabase
    from reporting.replay import replay
    from services.eventlog.sqlite import SqliteEventLog

    with SqliteEventLog(Path(log_path)) as log:
        if target == "sink":
            stats = replay(log, SinkDatabase())  # type: ignore[arg-type]
        else:
            client: MongoClient = MongoClient(target)
            try:
                stats = replay(log, client["bench_profile"])
            finally:
                client.close()
    print(json.dumps(stats), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--server-removed", action="store_true",
                        help="replay into a database that keeps nothing (bench/sink.py)")
    parser.add_argument("--gil", action="store_true",
                        help="only the samples of the thread holding the interpreter's lock")
    parser.add_argument("--rate", type=int, default=RATE, help="samples per second")
    parser.add_argument("--top", type=int, default=15, help="functions listed per process")
    parser.add_argument("--out", type=Path, help="where the raw profiles are kept "
                                                 "(default: a new temporary directory)")
    parser.add_argument("--replay-only", nargs=2, metavar=("LOG", "TARGET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay_only:
        _replay_only(*args.replay_only)
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="sada-profile-"))
    profiles = profile_replay(args.events, out, server_removed=args.server_removed,
                              gil=args.gil, rate=args.rate)
    what = "holding the interpreter's lock" if args.gil else "busy"
    for name, profile in profiles.items():
        print("\n".join(report(name, profile, args.rate, args.top, what)))
    print(f"raw profiles (py-spy --format raw) in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
