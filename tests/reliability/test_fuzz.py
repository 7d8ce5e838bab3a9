"""Fuzzing (hypothesis, derandomized in CI; plus a short atheris run): tree decoding, record
parsing, refs and `where` expressions raise only tmt.errors.TmtError subclasses, never
another exception.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_targets as ft

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats() | st.text(max_size=10) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)
hex_ids = st.text("0123456789abcdef", min_size=64, max_size=64)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return ft.make_store(tmp_path_factory.mktemp("fuzz") / "project")


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_decode_tree_random_bytes(data: bytes) -> None:
    ft.decode_tree(data)


@pytest.mark.slow
@settings(max_examples=200)
@given(msgpack_values)
def test_decode_tree_random_msgpack(value) -> None:
    ft.decode_tree(msgpack.packb(value, use_bin_type=True))


rows = st.lists(st.tuples(
    st.binary(max_size=12) | st.text(max_size=6),
    st.sampled_from(["f", "x", "l", "d", "z", ""]) | st.binary(max_size=2),
    st.binary(min_size=31, max_size=33),
    st.integers(min_value=-2, max_value=(1 << 64) - 1) | st.floats() | st.none(),
).map(list), max_size=5)


@pytest.mark.slow
@settings(max_examples=300)
@given(st.sampled_from([1, 0, 2, -1, True, 1.0, "1", None]), rows)
def test_decode_tree_tree_shaped(version, entries) -> None:
    ft.decode_tree(msgpack.packb([version, entries], use_bin_type=True))


@settings(suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400))
def test_read_record_random_bytes(tmp_path: Path, data: bytes) -> None:
    ft.read_record(tmp_path, data)


@pytest.mark.slow
@settings(suppress_health_check=list(HealthCheck))
@given(json_values)
def test_read_record_random_json(tmp_path: Path, value) -> None:
    ft.read_record(tmp_path, ft.record_bytes(value))


record_keys = list(ft.valid_record())


@pytest.mark.slow
@settings(suppress_health_check=list(HealthCheck), max_examples=300)
@given(st.dictionaries(st.sampled_from(record_keys + ["extra", "code.tree", "artifacts.0"]),
                       json_values | hex_ids, max_size=4),
       st.sampled_from(["0" * 32, "a" * 32, "zz"]))
def test_read_record_mutated_valid_record(tmp_path: Path, changes: dict, name: str) -> None:
    rec = ft.valid_record()
    for key, value in changes.items():
        if key == "code.tree":
            rec["code"] = {"root": ".", "tree": value, "files": 1, "bytes": 1, "git": None}
        elif key == "artifacts.0":
            rec["artifacts"] = [value]
        else:
            rec[key] = value
    ft.read_record(tmp_path, ft.record_bytes(rec), name)


ref_parts = st.sampled_from(["last", "lr", "sweep", "a~b", "~", "~~", "-1", "0", "abcd", "ffff", " ", "\0", "..",
                             "/", "*", "%", "'", '"', "NaN", "1e999", "99999999999999999999"])
big_numbers = st.integers(min_value=-(10**40), max_value=10**40).map(str) | st.sampled_from(["9" * 5000, "1" * 19])
refs = (st.lists(ref_parts | st.text(max_size=6), min_size=1, max_size=4).map("".join) | st.text(max_size=30)
        | st.tuples(st.sampled_from(["last", "lr", "nope"]), big_numbers).map("~".join))


@pytest.mark.slow
@settings(max_examples=200)
@given(refs)
def test_get_random_refs(store, ref: str) -> None:
    ft.get_ref(store, ref)


operands = st.sampled_from(["f1", "acc", "metrics.f1", "params.C", "params.opt.lr", "params.kind", "name",
                            "status", "tags", "id", "created_at", "x", "", "params.", "metrics..f1", "(", ")"])
ops = st.sampled_from([">", "<", ">=", "<=", "==", "!=", "=", "~", "=~", "in", "not in", "contains", "and", "or",
                       " ", "!", "<>", "==="])
values = st.sampled_from(["0.5", "1", "-1", "nan", "inf", "1e999", "'lr'", '"a b"', "'", "[1,2]", "None", "true",
                          "'.*'", "'['", "0x10", "1_000", "--1", ""]) | st.text(max_size=5) | big_numbers
where_exprs = st.tuples(operands, ops, values).map(lambda t: " ".join(t)) | st.text(max_size=25)


@pytest.mark.slow
@settings(max_examples=200)
@given(st.lists(where_exprs, min_size=1, max_size=3))
def test_where_random_expressions(store, exprs: list[str]) -> None:
    ft.where(store, exprs)


@pytest.mark.parametrize("ref", ["lr~" + "3" * 30, "last~" + "9" * 40, "lr~" + "9" * 5000])
def test_huge_tilde_counts_are_unknown_refs(store, ref: str) -> None:
    """Found by atheris: NAME~N with N beyond 64 bits raised OverflowError from SQLite."""
    import tmt
    from tmt.errors import UnknownRef

    with pytest.raises(UnknownRef, match="no run matches"):
        tmt.get(ref, repo=store)


@pytest.mark.parametrize("expr,n", [("params.C == " + "9" * 30, 0), ("f1 < " + "9" * 30, 8),
                                    ("f1 > " + "9" * 5000, 0), ("params.C > -" + "9" * 19, 8)])
def test_huge_numbers_in_where(store, expr: str, n: int) -> None:
    """Found while fixing the above: where literals wider than 64 bits raised OverflowError."""
    import tmt

    assert len(tmt.runs(where=[expr], repo=store)) == n


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (optional: pip install atheris); the libFuzzer run is skipped, "
                           "the hypothesis fuzzing still runs")
def test_atheris_short_run(store, tmp_path: Path) -> None:
    """libFuzzer (atheris) on the same targets, coverage-guided, 20,000 inputs, fixed seed."""
    r = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("fuzz_atheris.py")), str(store.root), str(tmp_path),
         "-runs=20000", "-seed=7", "-max_len=512"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,  # crash-* files land there
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done 20000 runs" in r.stderr
