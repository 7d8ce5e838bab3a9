"""The TUI's runs list gives exactly what tmt.runs() gives, filtered and sorted, without reading rows."""
from __future__ import annotations

import os

import pytest

import tmt
from cli_helpers import invoke, make_run
from tmt.query.runs import order_rids, select, select_rids
from tmt.query.search import parse_filter
from tmt.records.series import encode_frame, journal_path
from tmt.tui.listing import Listing
from tui_helpers import NOW, make_store

FILTERS = [
    "", "resnet", "^res|vit", "resnet f1>0.8", "status:failed", "status:running", "status:crashed",
    "status:running,crashed", "tag:paper", "since:2024-01-03 until:2024-01-05", "params.lr<=0.01", "f1>=0.7 bert",
    "loss.last<0.1", "loss.min < 0.09 status:crashed", "params.batch==32", "nothing-matches",
]
SORTS = ["created_at", "id", "name", "status", "duration_s", "metrics.f1", "params.lr", "metrics.loss.last",
         "metrics.loss.min"]


@pytest.fixture
def store(repo, dead_pid):
    make_store(repo)
    live = make_run(repo, 7, "resnet", status="running", pid=os.getpid(), params={"lr": 0.5})
    dead = make_run(repo, 8, "resnet", status="running", pid=dead_pid, params={"lr": 0.2})  # crashed
    for rec, values in ((live, [0.5, 0.05]), (dead, [0.4, 0.085])):  # their series are in their journals
        path = journal_path(repo.tmt_dir, rec.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(encode_frame(float(k), [("loss", k, v)]) for k, v in enumerate(values)))
    return repo


def ids_of(repo, rids):
    from tmt.query import index as ix

    rows = ix.index_for(repo).run(lambda c: c.execute("SELECT rid, id FROM runs").fetchall())
    by_rid = dict(rows)
    return [by_rid[r] for r in rids]


@pytest.mark.parametrize("text", FILTERS)
def test_select_rids_finds_the_runs_select_finds(store, text):
    kwargs = parse_filter(text).kwargs()
    assert sorted(ids_of(store, select_rids(store, **kwargs))) == sorted(select(store, **kwargs).ids)


@pytest.mark.parametrize("key", SORTS)
@pytest.mark.parametrize("descending", [False, True])
def test_order_rids_is_the_order_of_runs_sort(store, key, descending):
    expected = select(store).sort(key, descending=descending).ids
    if key == "created_at" and descending:
        expected = select(store, newest_first=True).ids  # tmt ls's newest-first order
    assert ids_of(store, order_rids(store, key, descending=descending)) == expected


@pytest.mark.parametrize("text", ["", "resnet", ".", "e|t", "f1>0.7", "status:completed tag:paper"])
def test_a_filtered_sorted_listing_is_tmt_runs_sorted(store, text):
    listing = Listing(store, filter_text=text, now=lambda: NOW)
    assert listing.error is None
    listing.set_sort("metrics.f1", True)
    expected = tmt.runs(**parse_filter(text).kwargs(), repo=store).sort("f1", descending=True).ids
    assert [row.id for row in listing.window(0, 100)] == expected
    listing.set_sort("created_at", True)
    assert [row.id for row in listing.window(0, 100)] == select(store, **parse_filter(text).kwargs(),
                                                                  newest_first=True).ids


def test_columns_are_those_tmt_ls_chooses(store):
    listing = Listing(store, now=lambda: NOW)
    assert [c.header for c in listing.columns] == invoke("ls").output.splitlines()[0].split()
    listing = Listing(store, column_names="params.batch,loss.last", now=lambda: NOW)
    assert [c.header for c in listing.columns][5:] == ["params.batch", "loss.last"]


def test_a_typo_in_a_where_key_leaves_no_trace_in_the_index(store):
    listing = Listing(store, now=lambda: NOW)
    assert not listing.set_filter("f2>0.5")
    assert listing.error.startswith("no run has a metric 'f2' (in 'f2>0.5'); did you mean 'f1'?")
    from tmt.query import index as ix

    keys = ix.index_for(store).run(lambda c: [k for (k,) in c.execute("SELECT key FROM kv_keys")])
    assert "m:f2" not in keys
    assert listing.set_filter("f1>0.5") and len(listing.rids) == 6


def test_previous_is_the_run_of_that_name_before(store):
    listing = Listing(store, now=lambda: NOW)
    ids = {n: (f"{n:x}" * 32)[:32] for n in range(1, 9)}
    assert listing.previous(ids[4]) == ids[2]
    assert listing.previous(ids[5]) == ids[3]
    assert listing.previous(ids[6]) == ids[5]  # no earlier vit: the run just before
    assert listing.previous(ids[1]) is None


def test_checkout_backups_are_hidden_unless_their_tag_is_asked_for(repo):
    make_store(repo)
    backup = make_run(repo, 9, "checkout-backup", tags=["checkout-backup"])
    listing = Listing(repo, now=lambda: NOW)
    assert backup.id not in [row.id for row in listing.window(0, 100)] and listing.total == 6
    assert listing.set_filter("tag:checkout-backup")
    assert [row.id for row in listing.window(0, 100)] == [backup.id]
    assert listing.set_filter("resnet")
    assert len(listing.rids) == 3
    assert listing.set_filter(".")  # every name matches, the backup's too: still hidden
    assert len(listing.rids) == 6 and backup.id not in [row.id for row in listing.window(0, 100)]
