"""tmt._units: one duration parser and one age/size format, the same in every command."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cli_helpers import invoke

import tmt
from tmt._units import format_age, format_size, match_duration, parse_duration
from tmt.errors import AmbiguousRef, UsageError
from tmt.query.filters import parse_time
from tmt.records.io import write_record
from tmt.records.model import Record


@pytest.mark.parametrize("text,seconds", [
    ("0", 0), ("3600", 3600), ("90s", 90), ("90 sec", 90), ("5secs", 5), ("30m", 1800), ("30min", 1800),
    ("2 mins", 120), ("1h", 3600), ("1.5h", 5400), ("2hr", 7200), ("3hrs", 10800), ("2d", 172800),
    ("1day", 86400), ("7days", 604800), ("1w", 604800), ("2wk", 1209600), ("1 week", 604800),
    ("2weeks", 1209600), (" 7D ", 604800),
])
def test_every_duration_form(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "7 fortnights", "-5", "1e3", "", "h"])
def test_bad_durations_name_the_forms(bad):
    with pytest.raises(UsageError) as e:
        parse_duration(bad)
    assert e.value.message == f"invalid duration {bad!r}"
    assert e.value.hint == "use a number of seconds or a number with a unit: 90s, 30m, 1h, 2d, 0"
    assert e.value.exit_code == 2


def test_negative_or_nan_numbers_are_refused():
    for bad in (-1, float("nan")):
        with pytest.raises(UsageError, match="invalid duration"):
            parse_duration(bad)


def test_ages_need_a_unit_but_accept_every_spelling():
    assert match_duration("30", unit_required=True) is None  # "30" as --since is not an age
    now = 1_000_000.0
    for text in ("7days", "7d", "1 week", "168h", "2 weeks"):
        assert parse_time(text, now=now) == now - (parse_duration(text))


def test_grace_and_since_accept_the_same_spellings(repo):
    """--grace 7days used to be refused while --since 7days worked."""
    for grace in ("7days", "2weeks", "3hrs", "0"):
        r = invoke("gc", "--dry-run", "--grace", grace)
        assert r.exit_code == 0, r.output
    r = invoke("ls", "--since", "7days")
    assert r.exit_code == 0, r.output
    r = invoke("gc", "--grace", "7 fortnights")
    assert r.exit_code == 2
    assert "Error: invalid duration '7 fortnights'\n" in r.output


def test_format_age_is_one_format():
    now = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    for secs, text in ((5, "5s ago"), (300, "5m ago"), (7200, "2h ago"), (3 * 86400, "3d ago")):
        when = now - timedelta(seconds=secs)
        assert format_age(when, now) == text
        assert format_age(when.isoformat(), now) == text
        assert format_age(when.timestamp(), now.timestamp()) == text  # epoch seconds too
    assert format_age(now - timedelta(days=90), now) == (now - timedelta(days=90)).astimezone().date().isoformat()
    assert format_age(None) == format_age("garbage") == format_age(float("nan")) == "-"


def test_format_size():
    assert [format_size(n) for n in (None, 0, 1023, 1024, 1536, 10 << 20, 5 << 30, 3 << 40, 5000 << 40)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "10.0 MiB", "5.0 GiB", "3.0 TiB", "5000.0 TiB"]


def test_ambiguous_ref_candidates_show_ages_like_ls(repo):
    """Candidate lines said '5 min ago' while tmt ls said '5m ago'."""
    created = datetime.now(timezone.utc) - timedelta(minutes=5, seconds=10)
    for i in range(2):
        write_record(repo.experiments_dir, repo.tmp_dir, Record(
            id=f"beef{i:028x}", name=f"r{i}", status="completed", created_at=created.isoformat(),
            finished_at=created.isoformat(), duration_s=1.0, env={"host": "elsewhere", "pid": 1},
        ))
    with pytest.raises(AmbiguousRef) as e:
        tmt.get("beef", repo=repo)
    # (5m10s ago: a 50 s margin before it would read "6m ago")
    assert [line.split("  ")[2] for line in e.value.candidates] == ["5m ago", "5m ago"]
