"""Secrets kept in the data dir (the token-signing secret, the master key of personal data)."""

from __future__ import annotations

import stat

from services.secretfile import read_or_make


def test_a_secret_is_made_once_for_its_owner_only_and_then_read(tmp_path):
    path = tmp_path / "deep" / "secret"
    made = []

    def make() -> str:
        made.append(f"s{len(made)}")
        return made[-1]

    assert read_or_make(path, make) == "s0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_or_make(path, make) == "s0"
    assert made == ["s0"]


def test_a_secret_another_process_made_first_is_the_one_read(tmp_path):
    path = tmp_path / "secret"
    path.write_text("theirs\n")
    assert read_or_make(path, lambda: "mine") == "theirs"
