"""The bench's closing lines: one per target the issues name, met or missed against its goal."""

from bench.targets import GOALS, Target, summary


def test_a_ratio_above_its_floor_is_met_and_below_is_missed():
    assert Target("replay-ratio", 0.31, "replay 20.8k/s, read+decode 67k/s").line() == (
        "target replay-ratio: 0.31 (replay 20.8k/s, read+decode 67k/s) goal >= 0.25 met")
    assert Target("replay-ratio", 0.2).line().endswith("missed")


def test_a_time_above_its_ceiling_is_missed():
    assert Target("board-1m-ms", 240, "10k: 180").line() == (
        "target board-1m-ms: 240ms (10k: 180) goal <= 300ms met")
    assert not Target("board-1m-ms", 301).met


def test_every_known_target_gets_one_line_and_an_unmeasured_one_misses():
    lines = summary([Target("e2e-ratio", 0.6)])
    assert len(lines) == len(GOALS)
    assert [line.split(":")[0] for line in lines] == [f"target {t}" for t in GOALS]
    assert lines[list(GOALS).index("e2e-ratio")].endswith(" met")
    assert "target kafka-read-ratio: not measured goal >= 0.8 missed" in lines


def test_the_figure_without_the_server_is_judged_beside_but_does_not_decide_the_line():
    line = Target("replay-1m-seconds", 151, "measured", server_removed=58.4).line()
    assert line == ("target replay-1m-seconds: 151s (measured; the server's part removed: "
                    "58.4s, met) goal <= 60s missed")
    assert Target("e2e-ratio", 0.6, server_removed=0.4).line() == (
        "target e2e-ratio: 0.6 (the server's part removed: 0.4, missed) goal >= 0.5 met")
