"""The metadata queries the web UI reads through, on every metadata store (SQLite, DynamoDB on
moto): pages of runs filtered by tag, user, status and time, and task cards."""

from __future__ import annotations

import time

from flowlib.metadata.records import FAILED, SUCCEEDED, CardRecord, RunFilter


def _store():
    from flowlib.stores import open_stores

    return open_stores().metadata


def _all_pages(meta, flow, filter=None, limit=7):
    seen, before, pages = [], None, 0
    while True:
        page = meta.list_runs_page(flow, filter, before, limit)
        assert len(page.runs) <= limit
        seen += [r.run_id for r in page.runs]
        pages += 1
        if page.next_before is None:
            return seen, pages
        before = page.next_before


def test_pages_of_runs_newest_first_with_filters(backend):
    meta = _store()
    first = [meta.create_run("PageFlow", "alice", ["user:alice"], ["nightly"]) for _ in range(12)]
    middle = time.time()
    later = [meta.create_run("PageFlow", "bob", ["user:bob"], ["nightly", "gpu"] if i % 2 else [])
             for i in range(9)]
    for run in first[::3]:
        meta.update_run("PageFlow", run.run_id, FAILED, time.time())
    for run in later[:4]:
        meta.update_run("PageFlow", run.run_id, SUCCEEDED, time.time())
    every = [r.run_id for r in first + later][::-1]

    ids, pages = _all_pages(meta, "PageFlow")
    assert ids == every and pages == 3
    page = meta.list_runs_page("PageFlow", None, None, 21)
    assert [r.run_id for r in page.runs] == every and page.next_before is None

    def matching(**kwargs):
        return _all_pages(meta, "PageFlow", RunFilter(**kwargs), limit=4)[0]

    assert matching(user="bob") == [r.run_id for r in later][::-1]
    assert matching(status=FAILED) == [r.run_id for r in first[::3]][::-1]
    assert matching(tags=["nightly", "gpu"]) == [r.run_id for r in later[1::2]][::-1]
    assert matching(tags=["nightly"], user="alice", status=FAILED) == \
        [r.run_id for r in first[::3]][::-1]
    assert matching(created_after=middle) == [r.run_id for r in later][::-1]
    assert matching(created_before=middle, status="running") == \
        [r.run_id for r in first if r not in first[::3]][::-1]
    assert matching(user="nobody") == [] and matching(tags=["absent"]) == []
    assert meta.list_runs_page("NoSuchFlow", None, None, 5).runs == []
    assert meta.list_runs_page("PageFlow", None, "1", 5).runs == []


def test_cards_are_recorded_per_attempt_and_replaced_on_save(backend):
    meta = _store()
    run = meta.create_run("CardPages", "alice", ["user:alice"], [])
    card = CardRecord("CardPages", run.run_id, "train", "3", 0, 0, "default", "k1", 1.0)
    meta.put_card(card)
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 0, 1, "blank", "k2", 2.0,
                             "report"))
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 1, 0, "default", "k3", 3.0))
    meta.put_card(CardRecord("CardPages", run.run_id, "train", "3", 0, 0, "default", "k4", 4.0))
    cards = meta.list_cards("CardPages", run.run_id, "train", "3")
    assert [(c.attempt, c.index, c.key, c.card_id, c.type) for c in cards] == [
        (0, 0, "k4", None, "default"), (0, 1, "k2", "report", "blank"),
        (1, 0, "k3", None, "default"),
    ]
    assert meta.list_cards("CardPages", run.run_id, "train", "4") == []
    assert meta.list_cards("CardPages", "not-a-run", "train", "3") == []
