"""The hash chain and its seals, on generated partitions: whatever one record is altered,
removed, moved or added, verification names exactly where, and an untouched partition passes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.chain import Chain
from services.audit.sealer import seal_event
from services.audit.verify import verify
from services.events.envelope import encode


def sealed_partition(n: int, every: int) -> list[bytes]:
    records: list[bytes] = []
    chain = Chain(0)
    for i in range(n):
        raw = f'{{"n":{i},"text":"رویداد {i}"}}'.encode()
        records.append(raw)
        chain.feed(len(records) - 1, raw)
        if (i + 1) % every == 0:
            raw = encode(seal_event(chain.next_seal()))
            records.append(raw)
            assert chain.feed(len(records) - 1, raw) is not None
    return records


def check(records: list[bytes]):
    return verify((0, o, raw) for o, raw in enumerate(records))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(12, 80), every=st.integers(3, 12), data=st.data())
def test_the_first_difference_is_named_exactly(n, every, data) -> None:
    records = sealed_partition(n, every)
    assert check(records).ok
    last_sealed = max(i for i, r in enumerate(records) if b"LogSealed" in r)
    k = data.draw(st.integers(0, last_sealed - 2), label="where")
    how = data.draw(st.sampled_from(["altered", "removed", "reordered", "inserted"]))
    tampered = list(records)
    if how == "altered":
        tampered[k] = tampered[k][:-1] + b" }"
    elif how == "removed":
        del tampered[k]
    elif how == "reordered":
        if tampered[k] == tampered[k + 1]:
            return
        tampered[k], tampered[k + 1] = tampered[k + 1], tampered[k]
    else:
        tampered.insert(k, b'{"forged":true}')
    report = check(tampered)
    assert not report.ok
    (finding,) = report.findings
    assert finding.index == k and finding.offset == k
    # The kind is certain unless a seal itself moved (a seal too early reads as a removal).
    moved = records[k:k + 2] if how == "reordered" else records[k:k + 1]
    if not any(b"LogSealed" in r for r in moved) or how in ("removed", "inserted"):
        assert finding.kind == how


def test_what_is_after_the_last_seal_is_unsealed_not_wrong() -> None:
    records = sealed_partition(20, 6)  # seals after 6, 12, 18: two records unsealed
    report = check(records[:-1] + [b'{"changed":1}'])
    assert report.ok and report.chains[0].unsealed == 3  # the last seal and two records
