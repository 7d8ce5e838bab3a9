"""Refs: id prefixes, names, last, last~N, NAME~N; unknown and ambiguous refs."""
from __future__ import annotations

import pytest
from test_query import make_run

import tmt
from tmt.errors import AmbiguousRef, UnknownRef
from tmt.records.model import Record


def _ids(prefix: str, n: int) -> list[str]:
    return [prefix + f"{i:x}".rjust(32 - len(prefix), "0") for i in range(n)]


@pytest.fixture
def runs(repo) -> dict[str, Record]:
    ids = _ids("abcd", 3) + _ids("ef01", 1)
    return {
        "a1": make_run(repo, "train", at=0, run_id=ids[0]),
        "b1": make_run(repo, "eval", at=1, run_id=ids[1]),
        "a2": make_run(repo, "train", at=2, run_id=ids[2]),
        "a3": make_run(repo, "train", at=3, run_id=ids[3]),
    }


def test_last_and_tilde(runs):
    assert tmt.get("last").id == runs["a3"].id
    assert tmt.get("last~1").id == runs["a2"].id
    assert tmt.get("last~").id == runs["a2"].id
    assert tmt.get("last~3").id == runs["a1"].id


def test_names(runs):
    assert tmt.get("train").id == runs["a3"].id
    assert tmt.get("train~1").id == runs["a2"].id
    assert tmt.get("train~2").id == runs["a1"].id
    assert tmt.get("eval").id == runs["b1"].id
    assert tmt.get(" eval ").id == runs["b1"].id


def test_ids_and_prefixes(runs):
    full = runs["a3"].id
    assert tmt.get(full).id == full
    assert tmt.get("ef01").id == full
    run = tmt.get("last")
    assert tmt.get(run) is run


def test_ambiguous_prefix_lists_candidates(runs):
    with pytest.raises(AmbiguousRef) as e:
        tmt.get("abcd")
    err = e.value
    assert err.ref == "abcd"
    lines = err.candidates
    assert len(lines) == 3
    # newest first: <8-char id>  <name>  <age>  <status>
    # (ages as tmt ls shows them: "5m ago", the date beyond 60 days; T0 is long ago)
    created = runs["a2"].created.astimezone().date().isoformat()
    assert lines[0] == f"{runs['a2'].id[:8]}  train  {created}  completed"
    assert lines[1].startswith("abcd0000  eval  ")
    assert err.message.startswith("'abcd' matches 3 runs:\n  abcd0000  train  ")
    assert err.hint == "use a longer id prefix"
    assert err.exit_code == 2


def test_unknown_name_suggests_close_names(runs):
    with pytest.raises(UnknownRef) as e:
        tmt.get("trian")
    assert e.value.candidates[0].startswith(f"{runs['a3'].id[:8]}  train  ")
    assert e.value.message.startswith("no run matches 'trian'; did you mean:\n  ")
    assert e.value.hint == "list runs with `tmt ls`"


def test_unknown_refs_messages(runs):
    with pytest.raises(UnknownRef) as e:
        tmt.get("zzzzzz")
    assert str(e.value) == "no run matches 'zzzzzz'\nhint: list runs with `tmt ls`"
    with pytest.raises(UnknownRef) as e:
        tmt.get("abc")
    assert e.value.hint == "an id prefix needs at least 4 characters; list runs with `tmt ls`"
    with pytest.raises(UnknownRef) as e:
        tmt.get("1234abcd")
    assert e.value.hint == "no run id starts with it and no run has this name; list runs with `tmt ls`"
    with pytest.raises(UnknownRef) as e:
        tmt.get("last~4")
    assert e.value.hint == "there are only 4 runs: last~3 is the oldest"
    with pytest.raises(UnknownRef) as e:
        tmt.get("train~3")
    assert e.value.hint == "'train' has only 3 runs: train~2 is its oldest"
    with pytest.raises(UnknownRef) as e:
        tmt.get("0" * 32)
    assert e.value.hint == "no record with this id; list runs with `tmt ls`"
    with pytest.raises(UnknownRef) as e:
        tmt.get("nope~2")
    assert e.value.message == "no run matches 'nope~2'"


def test_empty_store(repo):
    with pytest.raises(UnknownRef) as e:
        tmt.get("last")
    assert e.value.hint == "no runs are recorded yet in this repository"


def test_exact_name_beats_prefix_and_tilde_in_names(repo):
    hexname = make_run(repo, "beef", at=0)
    make_run(repo, "x", at=1, run_id="beef" + "0" * 28)
    tilde = make_run(repo, "odd~2", at=2)
    assert tmt.get("beef").id == hexname.id
    assert tmt.get("odd~2").id == tilde.id


def test_crashed_status_in_candidates(repo, python):
    import socket
    import subprocess

    p = subprocess.Popen([python, "-c", "pass"])
    p.wait()
    make_run(repo, "crash", status="running", env={"host": socket.gethostname(), "pid": p.pid}, run_id="cafe" + "1" * 28)
    make_run(repo, "other", run_id="cafe" + "2" * 28)
    with pytest.raises(AmbiguousRef) as e:
        tmt.get("cafe")
    assert any(line.endswith("  crashed") and "  crash  " in line for line in e.value.candidates)


def test_last_is_a_keyword_even_with_a_run_named_last(project) -> None:
    """DESIGN: `last` is the latest run of all; a run named "last" must not shadow it."""
    import tmt

    with tmt.start_run(name="last") as r:
        r.metrics["v"] = 1
    with tmt.start_run(name="newest") as r:
        r.metrics["v"] = 2
    assert tmt.get("last").name == "newest"
    assert tmt.get("last~1").name == "last"
