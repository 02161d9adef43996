"""`make bench`: every section's figures beside a reference measured in the same run, then one
`target ID: … met|missed` line per target the issues name.

    python -m bench                 # every section
    python -m bench --only e2e      # one or more sections
    python -m bench --quick         # smaller sizes, for a first look
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

from bench.targets import Target, summary

# Section name -> module exposing `section(quick: bool) -> list[Target]`; each prints its figures.
SECTIONS: dict[str, str] = {
    "e2e": "bench.e2e",
    "replay": "bench.replay",
    "latency": "bench.latency",
    "kafka": "bench.kafka",
    "readside": "bench.readside",
    "restart": "bench.restart",
}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look")
    args = parser.parse_args(argv)
    measured: list[Target] = []
    for name in args.only:
        print(f"== {name} ({_load()})", flush=True)
        start = time.perf_counter()
        measured += importlib.import_module(SECTIONS[name]).section(args.quick)
        print(f"-- {name} took {time.perf_counter() - start:.0f} s", flush=True)
    print(f"== targets ({_load()})")
    for line in summary(measured):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
