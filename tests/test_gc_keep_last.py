"""tmt gc --keep-last N asks first, like tmt rm, and never deletes runs tagged keep."""
from __future__ import annotations

import pytest

from cli_helpers import invoke, make_run
from tmt.maintenance.gc import GcDeclined, gc
from tmt.records.io import record_files


@pytest.fixture
def runs(repo):
    """Five `train` runs (the oldest tagged keep, the next paper) and one `eval`."""
    made = [make_run(repo, n, "train", tags=tags, metrics={"f1": n / 10})
            for n, tags in [(1, ["keep"]), (2, ["paper"]), (3, []), (4, []), (5, [])]]
    made.append(make_run(repo, 6, "eval"))
    return made


def left(repo) -> list[str]:
    return sorted(p.name[0] for p in record_files(repo.experiments_dir))


def test_refused_without_a_terminal_and_without_yes(repo, runs):
    r = invoke("gc", "--keep-last", "1", "--grace", "0")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == ("Error: refusing to delete 3 runs without confirmation: stdin is not a terminal\n"
                        "hint: pass --yes to delete without asking\n")
    assert left(repo) == ["1", "2", "3", "4", "5", "6"]


def test_asks_on_a_terminal_listing_the_runs(repo, runs, monkeypatch):
    import tmt.cli.common as common

    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)
    r = invoke("gc", "--keep-last", "1", "--grace", "0", input="n\n")
    assert r.exit_code == 1
    assert r.stderr == ("  44444444  train  completed  2024-01-04\n"
                        "  33333333  train  completed  2024-01-03\n"
                        "  22222222  train  completed  2024-01-02\n"
                        "Delete 3 runs? [y/N]: n\n"
                        "Nothing deleted.\n")
    assert left(repo) == ["1", "2", "3", "4", "5", "6"]
    r = invoke("gc", "--keep-last", "1", "--grace", "0", input="y\n")
    assert r.exit_code == 0, r.stderr
    assert "Deleted 3 run(s) beyond the newest 1 per name: 22222222, 33333333, 44444444\n" in r.stdout
    assert left(repo) == ["1", "5", "6"]  # 1 is tagged keep: never deleted, not counted


def test_yes_and_more_keep_tags(repo, runs):
    r = invoke("gc", "--keep-last", "1", "--keep-tag", "paper", "--yes", "--grace", "0")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("Deleted 2 run(s) beyond the newest 1 per name: 33333333, 44444444\n")
    assert left(repo) == ["1", "2", "5", "6"]


def test_dry_run_lists_without_asking(repo, runs):
    r = invoke("gc", "--keep-last", "2", "--dry-run")
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.startswith("Would delete 2 run(s) beyond the newest 2 per name: 22222222, 33333333\n")
    assert left(repo) == ["1", "2", "3", "4", "5", "6"]


def test_api_confirm_and_keep_tags(repo, runs):
    asked = []

    def no(records):
        asked.append([r.id[0] for r in records])
        return False

    with pytest.raises(GcDeclined):
        gc(repo, grace=0, keep_last=0, confirm=no)
    assert asked == [["6", "5", "4", "3", "2"]] and len(left(repo)) == 6
    r = gc(repo, grace=0, keep_last=0, keep_tags=())  # no protection asked for, no question
    assert left(repo) == [] and len(r.records_deleted) == 6
