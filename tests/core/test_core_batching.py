"""Planning batches into transactions etcd accepts (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.batching import MAX_TXN_BYTES, commit_chunks, plan_chunks
from core.errors import GuardFailed, InvalidRequest
from core.store import Compare, Delete, Get, Put, TxnResult, WriteOp


def puts(n: int, value: bytes = b"v") -> list[WriteOp]:
    return [Put(f"/k/{i:05d}", value) for i in range(n)]


def test_chunks_hold_at_most_128_ops_in_order() -> None:
    ops = puts(1000)
    chunks = plan_chunks(ops)
    assert [len(c) for c in chunks] == [128] * 7 + [104]
    assert [op for chunk in chunks for op in chunk] == ops


def test_a_repeated_key_starts_a_new_chunk() -> None:
    ops: list[WriteOp] = [Put("/a", b"1"), Put("/b", b"1"), Delete("/a"), Put("/a", b"2")]
    assert plan_chunks(ops) == [
        [Put("/a", b"1"), Put("/b", b"1")],
        [Delete("/a")],
        [Put("/a", b"2")],
    ]


def test_a_prefix_delete_gets_a_chunk_of_its_own() -> None:
    ops: list[WriteOp] = [Put("/a/1", b""), Delete("/a/", prefix=True), Put("/a/2", b"")]
    assert plan_chunks(ops) == [
        [Put("/a/1", b"")],
        [Delete("/a/", prefix=True)],
        [Put("/a/2", b"")],
    ]


def test_chunks_stay_under_the_request_size_limit() -> None:
    big = b"x" * (MAX_TXN_BYTES // 4)
    chunks = plan_chunks(puts(10, big))
    assert all(
        sum(len(op.value) for op in c if isinstance(op, Put)) <= MAX_TXN_BYTES for c in chunks
    )
    assert sum(len(c) for c in chunks) == 10


def test_reads_are_refused_in_a_batch() -> None:
    with pytest.raises(InvalidRequest):
        plan_chunks([Get("/a")])  # type: ignore[list-item]


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.booleans()), max_size=400))
def test_no_chunk_repeats_a_key_or_exceeds_the_limit(spec: list[tuple[str, bool]]) -> None:
    ops: list[WriteOp] = [Put(f"/{k}", b"") if put else Delete(f"/{k}") for k, put in spec]
    chunks = plan_chunks(ops, max_ops=5)
    assert [op for chunk in chunks for op in chunk] == ops
    for chunk in chunks:
        assert 0 < len(chunk) <= 5
        assert len({op.key for op in chunk}) == len(chunk)


def test_commit_stops_at_the_first_failed_guard() -> None:
    calls: list[int] = []

    def run(compares: Sequence[Compare], chunk: Sequence[WriteOp]) -> TxnResult:
        assert compares == (Compare.value("/leader", b"me"),)
        calls.append(len(chunk))
        return TxnResult(succeeded=len(calls) < 3, revision=10 + len(calls))

    with pytest.raises(GuardFailed) as caught:
        commit_chunks(run, puts(1000), Compare.value("/leader", b"me"))
    assert caught.value.committed == 256
    assert caught.value.key == "/leader"
    assert calls == [128, 128, 128]


def test_commit_reports_what_was_written() -> None:
    def run(compares: Sequence[Compare], chunk: Sequence[WriteOp]) -> TxnResult:
        return TxnResult(True, 100 + len(chunk))

    result = commit_chunks(run, puts(300))
    assert result.written == 300
    assert result.revisions == (228, 228, 144)
    assert result.revision == 144
    assert commit_chunks(run, []).written == 0
