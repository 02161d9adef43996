"""Reading py-spy's raw samples: the shares `python -m bench.profile` prints."""

from bench.profile import read_raw, report

RAW = """\
process 7:"python -m x";main (a.py);replay (r.py);decode (d.py) 6
process 7:"python -m x";main (a.py);replay (r.py);write (w.py);encode (e.py) 3
thread (0x1);main (a.py);replay (r.py) 1
a line py-spy would not write
"""


def test_each_function_is_counted_alone_and_with_its_callees():
    profile = read_raw(RAW.splitlines())
    assert profile.samples == 10
    assert profile.own == {"decode (d.py)": 6, "encode (e.py)": 3, "replay (r.py)": 1}
    assert profile.within["replay (r.py)"] == 10
    assert profile.within["write (w.py)"] == 3
    assert not any(frame.startswith(("process", "thread")) for frame in profile.within)


def test_a_recursive_function_counts_once_per_sample():
    profile = read_raw(["f (a.py);f (a.py);f (a.py) 4"])
    assert profile.within["f (a.py)"] == 4 and profile.own["f (a.py)"] == 4


def test_the_report_gives_busy_seconds_and_shares():
    lines = report("replay", read_raw(RAW.splitlines()), rate=100, top=2)
    assert lines[0] == "replay: 0.1 s busy (10 samples at 100/s)"
    assert "     60.0%  decode (d.py)" in lines
    assert "     30.0%  encode (e.py)" in lines
    assert "    100.0%  main (a.py)" in lines
