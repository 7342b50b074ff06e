"""The per-step item memo and the community id matching an update relies on."""

from __future__ import annotations

from pathlib import Path

from graphrag_lite.index.graph.community_ids import keep_community_ids
from graphrag_lite.index.items import ItemRunner, Outcome
from graphrag_lite.models.base import UsageMeter
from graphrag_lite.store.ids import community_id
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Community


def test_memo_round_trip_keeps_only_entries_used_or_made(tmp_path: Path) -> None:
    path = tmp_path / "memo.parquet"
    first = ItemMemo()
    first.put(memo_key("unit", "a"), {"entities": ["A"]}, calls=2)
    first.put(memo_key("unit", "b"), {"entities": ["B"]}, calls=3)
    first.save(path, "salt-1")

    second = ItemMemo.load(path, "salt-1")
    assert second.get(memo_key("unit", "a")) == {"entities": ["A"]}
    assert second.get(memo_key("unit", "zzz")) is None
    second.put(memo_key("unit", "c"), ["C"])
    assert second.stats() == {"reused": 1, "computed": 1, "llm_calls_saved": 2}
    second.save(path, "salt-1")

    third = ItemMemo.load(path, "salt-1")
    assert third.get(memo_key("unit", "b")) is None, "an entry nobody used is dropped"
    assert third.get(memo_key("unit", "c")) == ["C"]


def test_memo_with_another_salt_or_a_broken_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "memo.parquet"
    memo = ItemMemo()
    memo.put("k", 1)
    memo.save(path, "settings-A")
    assert ItemMemo.load(path, "settings-B").get("k") is None
    path.write_bytes(b"not parquet")
    assert ItemMemo.load(path, "settings-A").get("k") is None
    assert ItemMemo.load(tmp_path / "missing.parquet", "x").get("k") is None


def test_memo_key_depends_on_every_part() -> None:
    assert memo_key("a", ["x", "y"]) == memo_key("a", ["x", "y"])
    assert memo_key("a", ["x", "y"]) != memo_key("a", ["y", "x"])
    assert memo_key("a", 1) != memo_key("b", 1)


def _community(level: int, members: list[str], parent: str | None = None) -> Community:
    return Community(
        id=community_id(level, members), level=level, parent=parent, entity_ids=members, size=len(members)
    )


def test_changed_communities_keep_the_id_of_the_old_one_they_overlap_most() -> None:
    old_parent = _community(0, ["a", "b", "c", "d", "e", "f"])
    old_same = _community(1, ["a", "b"], old_parent.id)
    old_grown = _community(1, ["c", "d", "e"], old_parent.id)
    old_gone = _community(1, ["f"], old_parent.id)
    old_parent.children = sorted([old_same.id, old_grown.id, old_gone.id])

    new_parent = _community(0, ["a", "b", "c", "d", "e", "g"])
    same = _community(1, ["a", "b"], new_parent.id)
    grown = _community(1, ["c", "d", "e", "g"], new_parent.id)  # Jaccard 3/4 with old_grown
    fresh = _community(2, ["x", "y"], grown.id)  # no old community at level 2
    new_parent.children = sorted([same.id, grown.id])
    grown.children = [fresh.id]
    new = [new_parent, same, grown, fresh]

    stats = keep_community_ids(new, [old_parent, old_same, old_grown, old_gone])

    assert stats.as_dict() == {"unchanged": 1, "matched": 2, "new": 1, "removed": 1}
    assert new_parent.id == old_parent.id and grown.id == old_grown.id and same.id == old_same.id
    assert grown.parent == old_parent.id and same.parent == old_parent.id
    assert new_parent.children == sorted([old_same.id, old_grown.id])
    assert fresh.parent == old_grown.id


def test_a_community_overlapping_too_little_gets_a_new_id() -> None:
    old = _community(0, ["a", "b", "c", "d"])
    new = _community(0, ["a", "x", "y", "z"])  # Jaccard 1/7
    fresh_id = new.id
    stats = keep_community_ids([new], [old])
    assert new.id == fresh_id and stats.new == 1 and stats.removed == 1


async def test_item_runner_reuses_memoised_items_and_retries_only_failures() -> None:
    memo = ItemMemo()
    memo.put(memo_key("item", "a"), "A from before")
    progress: list[tuple[int, int]] = []
    runner = ItemRunner(memo, UsageMeter(), 3, lambda done, total: progress.append((done, total)))
    computed: list[str] = []

    async def run(item: str, failure: str | None = None) -> str:
        async def compute() -> Outcome[str]:
            computed.append(item)
            return Outcome(item.upper(), failure)

        return await runner.run(item, memo_key("item", item), compute, encode=str, decode=str)

    assert await run("a") == "A from before"
    assert await run("b") == "B"
    assert await run("c", failure="the model failed") == "C"
    assert computed == ["b", "c"], "a memoised item costs nothing"
    assert runner.reused == 1 and progress == [(1, 3), (2, 3), (3, 3)]
    assert runner.failed(["c", "b", "a"]) == [("c", "the model failed")]
    assert memo.get(memo_key("item", "b")) == "B"
    assert memo.get(memo_key("item", "c")) is None, (
        "a failed item is not memoised, so the next run retries it"
    )


def test_a_mid_step_checkpoint_keeps_previous_entries_for_a_resumed_run(tmp_path: Path) -> None:
    path = tmp_path / "memo.parquet"
    first = ItemMemo()
    first.put("a", 1)
    first.put("b", 2)
    first.save(path, "salt")
    # The next run has used "a" and made "c" when it is killed: a checkpoint must still hold "b",
    # which the rest of the step would have reused.
    memo = ItemMemo.load(path, "salt")
    memo.checkpoint_to(path, "salt", interval_s=3600)
    assert memo.get("a") == 1
    memo.put("c", 3)
    assert not memo.checkpoint()  # not due yet: checkpoints are throttled
    assert memo.checkpoint(now=True)
    resumed = ItemMemo.load(path, "salt")
    assert (resumed.get("a"), resumed.get("b"), resumed.get("c")) == (1, 2, 3)
    # The step's own end still saves only what the run used or made.
    memo.save(path, "salt")
    assert ItemMemo.load(path, "salt").get("b") is None
