"""`python -m bench.profile` profiles a real replay with py-spy: the replay's process and, into
SecantusDB, the server's, each with samples in the functions that do the work."""

from bench.profile import main


def test_a_replay_into_secantusdb_is_profiled_on_both_sides(tmp_path, capsys):
    assert main(["--events", "3000", "--rate", "250", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "replayed 3002 events -> " in printed  # the whole log: 3,000 and the seals
    assert "replay: " in printed and "secantusdb: " in printed
    replay = (tmp_path / "replay.raw").read_text()
    server = (tmp_path / "server.raw").read_text()
    assert "replay (reporting/replay.py)" in replay
    assert "secantus" in server.lower()


def test_without_the_server_only_the_replay_is_profiled(tmp_path, capsys):
    assert main(["--events", "2000", "--server-removed", "--gil", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "replay: " in printed and "secantusdb: " not in printed
    assert not (tmp_path / "server.raw").exists()
    assert "reporting/replay.py" in (tmp_path / "replay.raw").read_text()
