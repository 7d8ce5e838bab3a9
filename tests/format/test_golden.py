"""Golden on-disk format: the committed store data/v1 (made by make_golden.py) is the contract.

Any change to hashing, object paths, tree bytes or the record JSON fails here. Such a change
is a format version bump with a migration (docs/format.md, "Versioning"), never a silent
edit of the expected values below.
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import sys
from pathlib import Path

import msgpack
import pytest

from tmt.errors import CorruptObject, CorruptRecord, RecordError
from tmt.records.io import MAX_RECORD_BYTES, read_record, record_bytes, record_files
from tmt.records.model import Record, decode, encode
from tmt.records.series import Series, decode_series, encode_frame, encode_series, iter_frames, series_from_frames
from tmt.snapshot.checkout import materialize, walk_tree
from tmt.snapshot.tree import TreeEntry, decode_tree, encode_tree
from tmt.store.ids import hash_bytes
from tmt.store.objects import ObjectStore

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "v1"
DOC = HERE.parent.parent / "docs" / "format.md"

ROOT_TREE = "11c712b944f67ed76f0679247b7971163bb97f8d4e1d13bb4a3aede070c4c77d"
PKG_TREE = "5bfeaf67c235e464438e750806e7d71273d0570ac56533b06c96f5a3af91d60c"
SERIES = "66e1de5e0d901137fbf1ec1266d53f9d0b462f7787faae95b08d82d29394a811"
ARTIFACT = "e49b7225e1eace47c8e7aed6c0563d8747a46dac80e248c8efd45f9617cd4d27"
EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"  # BLAKE3("")
CAFE = "3ceae248eacaf486357192011806a5bf7ebc58462f64e88fa1ddffd9be3cda4b"  # BLAKE3("x = 1\n")
SPACE = "4b782a407c7b9c61b45298b9180a5675d6f3822deb17f7f95724a3b62c1008ce"  # BLAKE3("s\n")

OBJECTS = {
    ROOT_TREE: "root tree",
    PKG_TREE: "tree pkg/",
    SERIES: "series blob 'loss'",
    ARTIFACT: "artifact blob",
    EMPTY: "pkg/__init__.py",
    CAFE: "pkg/caf\\xe9.py",
    SPACE: "pkg/with space.txt",
    "b1fc58f2898739489681bf6087f411f9bed8deab9c050713bcfc2a40922328f4": ".gitignore",
    "e2df0f7671bdeb6a9d3c63f556855e1bfed655adc771b853d653bf1d44cb8d66": "README.md",
    "4b7641bc97d937d0065d607180f74c811d0782bcd544aabeea1aebd921f7862b": "symlink target of latest",
    "c2f958ea62c5d573e96a6512a8fa93914d15e98db7522ae2f7f1754a88029d21": "run.sh",
    "5fbb34f0718767ca443a8325e79621297586736fc5ab449d3ec589995af8303d": "train.py",
}

# The worked test vector of docs/format.md: the tree of pkg/ (three files, one name not UTF-8).
PKG_TREE_HEX = (
    "92019394c40b5f5f696e69745f5f2e7079a166c420af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7"
    "cc9a93cae41f32620094c407636166e92e7079a166c4203ceae248eacaf486357192011806a5bf7ebc58462f64"
    "e88fa1ddffd9be3cda4b0694c40e776974682073706163652e747874a166c4204b782a407c7b9c61b45298b918"
    "0a5675d6f3822deb17f7f95724a3b62c1008ce02"
)
ROOT_TREE_HEX = (
    "92019694c40a2e67697469676e6f7265a166c420b1fc58f2898739489681bf6087f411f9bed8deab9c050713bc"
    "fc2a40922328f40694c409524541444d452e6d64a166c420e2df0f7671bdeb6a9d3c63f556855e1bfed655adc7"
    "71b853d653bf1d44cb8d660794c4066c6174657374a16cc4204b7641bc97d937d0065d607180f74c811d0782bc"
    "d544aabeea1aebd921f7862b0894c403706b67a164c4205bfeaf67c235e464438e750806e7d71273d0570ac565"
    "33b06c96f5a3af91d60c0894c40672756e2e7368a178c420c2f958ea62c5d573e96a6512a8fa93914d15e98db7"
    "522ae2f7f1754a88029d211f94c408747261696e2e7079a166c4205fbb34f0718767ca443a8325e79621297586"
    "736fc5ab449d3ec589995af8303d0f"
)
# The journal vector of docs/format.md (section 4.1): two log() calls, one point without a step.
JOURNAL_HEX = (
    "0000002b9301cb41d954fc402000009293a46c6f737300cb3fd000000000000093a3616363c0cb3ff000000000"
    "00000000001c9301cb41d954fc404000009193a46c6f737301cb3fc0000000000000"
)
# The series blob vector of docs/format.md (section 4): three points, the last without a step.
SERIES_HEX = (
    "9501a46c6f7373930001c093cb3fd0000000000000cb3fc0000000000000cb3ff000000000000093cb41d954fc"
    "40200000cb41d954fc40400000cb41d954fc40400000"
)
#: The timestamps tmt writes (docs/format.md, section 6.1).
WRITER_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?[+-]\d{2}:\d{2}(:\d{2}(\.\d{6})?)?\Z")
RECORD_KEYS = [
    "format", "id", "name", "status", "created_at", "finished_at", "duration_s", "description", "tags",
    "code", "params", "metrics", "series", "artifacts", "parent", "env", "error",
]


def load_make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(DATA)


def all_files(base: Path) -> dict[str, bytes]:
    return {
        str(Path(dirpath, n).relative_to(base)): Path(dirpath, n).read_bytes()
        for dirpath, _, names in os.walk(base)
        for n in names
    }


def test_exact_object_ids(store: ObjectStore) -> None:
    assert set(store) == set(OBJECTS)
    for oid in OBJECTS:
        assert store.path(oid) == DATA / "objects" / oid[:2] / oid[2:]
        assert hash_bytes(store.get(oid)) == oid


def test_exact_tree_bytes(store: ObjectStore) -> None:
    assert store.get(ROOT_TREE) == bytes.fromhex(ROOT_TREE_HEX)
    assert store.get(PKG_TREE) == bytes.fromhex(PKG_TREE_HEX)
    assert decode_tree(store.get(PKG_TREE), PKG_TREE) == [
        TreeEntry(b"__init__.py", "f", EMPTY, 0),
        TreeEntry(b"caf\xe9.py", "f", CAFE, 6),
        TreeEntry(b"with space.txt", "f", SPACE, 2),
    ]
    assert [(e.name, e.kind, e.size) for e in decode_tree(store.get(ROOT_TREE), ROOT_TREE)] == [
        (b".gitignore", "f", 6), (b"README.md", "f", 7), (b"latest", "l", 8),
        (b"pkg", "d", 8), (b"run.sh", "x", 31), (b"train.py", "f", 15),
    ]


def test_worked_vector_encodes_and_is_in_the_docs() -> None:
    entries = [
        TreeEntry(b"with space.txt", "f", SPACE, 2),
        TreeEntry(b"__init__.py", "f", EMPTY, 0),
        TreeEntry(b"caf\xe9.py", "f", CAFE, 6),
    ]
    data = encode_tree(entries)
    assert data.hex() == PKG_TREE_HEX
    assert hash_bytes(data) == PKG_TREE
    doc = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vector: pkg-tree -->\s*```\n(.*?)```", doc, re.S)
    assert block, "docs/format.md lost its worked tree vector"
    assert "".join(block.group(1).split()) == PKG_TREE_HEX
    assert f"tree id: {PKG_TREE}" in doc
    assert f'BLAKE3-256("") = {EMPTY}' in doc


def test_golden_store_regenerates_byte_for_byte(tmp_path: Path) -> None:
    made = load_make_golden().build(tmp_path / "v1")
    assert made == {"tree": ROOT_TREE, "series": SERIES, "artifact": ARTIFACT}
    assert all_files(tmp_path / "v1") == all_files(DATA)


def test_golden_tree_materializes(store: ObjectStore, tmp_path: Path) -> None:
    mg = load_make_golden()
    materialize(store, ROOT_TREE, tmp_path / "out")
    base = os.fsencode(tmp_path / "out")
    for rel, content, executable in mg.CODE_FILES:
        if rel.endswith(b".log"):
            assert not os.path.exists(os.path.join(base, rel))  # ignored by .gitignore
            continue
        with open(os.path.join(base, rel), "rb") as f:
            assert f.read() == content
        assert bool(os.stat(os.path.join(base, rel)).st_mode & 0o100) == executable
    assert os.readlink(os.path.join(base, b"latest")) == b"train.py"
    assert len(list(walk_tree(store, ROOT_TREE))) == 8


def test_record_keys_and_values() -> None:
    [path] = list(record_files(DATA / "experiments"))
    assert path.name == "0123456789abcdef0123456789abcdef.json"
    raw = path.read_bytes()
    data = json.loads(raw)
    assert list(data) == RECORD_KEYS
    assert data["format"] == 1
    assert list(data["code"]) == ["root", "tree", "files", "bytes", "git"]
    assert data["code"]["tree"] == ROOT_TREE and data["code"]["files"] == 8 and data["code"]["bytes"] == 75
    assert data["metrics"] == {"f1": 0.9, "steps": 3, "diverged": "NaN", "best": "Infinity", "worst": "-Infinity"}
    assert data["series"] == {"loss": SERIES}
    assert list(data["artifacts"][0]) == ["name", "object", "size", "format", "filename"]
    assert raw.endswith(b"}\n") and b'\n  "id": ' in raw  # 2-space indent, trailing newline
    assert "résumé".encode() in raw  # UTF-8, not \u escapes
    rec = read_record(path)
    assert math.isnan(rec.metrics["diverged"]) and rec.metrics["best"] == math.inf and rec.metrics["worst"] == -math.inf
    assert record_bytes(rec) == raw  # decode -> encode is byte-exact
    assert sorted(rec.object_ids()) == sorted([ROOT_TREE, SERIES, ARTIFACT])


def test_series_blob(store: ObjectStore) -> None:
    s = decode_series(store.get(SERIES), SERIES)
    assert (s.name, s.steps, s.values, s.times) == ("loss", [0, 1, 2], [1.0, 0.5, 0.25], [1700000000.0, 1700000001.0, 1700000002.5])


def test_unknown_record_keys_survive_a_rewrite() -> None:
    data = json.loads(next(record_files(DATA / "experiments")).read_bytes())
    data["added_by_a_newer_tmt"] = {"x": 1}
    again = encode(decode(data, "t"))
    assert again["added_by_a_newer_tmt"] == {"x": 1}
    assert list(again)[: len(RECORD_KEYS)] == RECORD_KEYS


def test_an_optional_field_is_written_only_when_set() -> None:
    raw = next(record_files(DATA / "experiments")).read_bytes()
    rec = decode(json.loads(raw), "t")
    assert rec.outputs == {} and "outputs" not in encode(rec)  # unused: the bytes stay as they were
    rec.outputs = {"report": "ok"}
    data = json.loads(record_bytes(rec))
    assert list(data) == [*RECORD_KEYS, "outputs"] and data["outputs"] == {"report": "ok"}
    assert decode(data, "t").outputs == {"report": "ok"}
    data["outputs"] = ["not", "an", "object"]
    with pytest.raises(CorruptRecord, match="outputs must be a JSON dict"):
        decode(data, "t")


def test_record_that_is_not_json_is_a_record_error() -> None:
    # Regression: a NaN outside metrics raised a bare ValueError from json.dumps.
    rec = Record(id="0" * 32, name="x", created_at="2024-01-01T00:00:00+00:00", params={"lr": float("nan")})
    with pytest.raises(RecordError) as err:
        record_bytes(rec)
    assert err.value.message == f"record {'0' * 32} cannot be written as JSON: Out of range float values are not JSON compliant: nan"


def test_journal_vector_encodes_reads_back_and_is_in_the_docs() -> None:
    data = encode_frame(1700000000.5, [("loss", 0, 0.25), ("acc", None, 1.0)]) + encode_frame(
        1700000001.0, [("loss", 1, 0.125)]
    )
    assert data.hex() == JOURNAL_HEX and len(data) == 79
    series = series_from_frames(iter_frames(data))
    assert {name: list(s) for name, s in series.items()} == {"loss": [(0, 0.25), (1, 0.125)], "acc": [(None, 1.0)]}
    assert series["loss"].times == [1700000000.5, 1700000001.0]
    assert [t for t, _ in iter_frames(data[:-1])] == [1700000000.5]  # a torn last frame is not read
    assert list(iter_frames(b"\0\0\0\0" + data)) == []  # a zero length stops the reader
    doc = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vector: journal -->\s*```\n(.*?)```", doc, re.S)
    assert block, "docs/format.md lost its journal vector"
    assert "".join(block.group(1).split()) == JOURNAL_HEX


def test_series_vector_encodes_reads_back_and_is_in_the_docs() -> None:
    series = Series("loss", [0, 1, None], [0.25, 0.125, 1.0], [1700000000.5, 1700000001.0, 1700000001.0])
    data = encode_series(series)
    assert data.hex() == SERIES_HEX and len(data) == 67
    assert hash_bytes(data) == "832c796c448f996dc8e9460875188d5f1d08d86e3a3d81a69c858cd280d467ad"
    back = decode_series(data)
    assert (back.name, list(back), back.times) == ("loss", [(0, 0.25), (1, 0.125), (None, 1.0)], series.times)
    doc = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- vector: series -->\s*```\n(.*?)```", doc, re.S)
    assert block, "docs/format.md lost its series vector"
    assert "".join(block.group(1).split()) == SERIES_HEX


@pytest.mark.parametrize("blob, reason", [
    ([1, "x", [0], [2], [1.0]], "series value or time is not a float"),  # a whole number written as an int
    ([1, "x", [0], [2.0], [1]], "series value or time is not a float"),
    ([1, "x", [True], [2.0], [1.0]], "series step is not an integer"),
    ([1, "x", [0.0], [2.0], [1.0]], "series step is not an integer"),
    ([1, "x", [0, 1], [2.0], [1.0]], "series lists differ in length"),
    ([1, b"x", [0], [2.0], [1.0]], "not a series (bad fields)"),
    ([2, "x", [0], [2.0], [1.0]], "not a series (bad header)"),
    ([True, "x", [0], [2.0], [1.0]], "not a series (bad header)"),  # the version is the integer 1
    ([1.0, "x", [0], [2.0], [1.0]], "not a series (bad header)"),
    ([1, "x", [0], [2.0]], "not a series (bad header)"),
])
def test_a_series_blob_outside_the_grammar_is_corrupt(blob: list, reason: str) -> None:
    with pytest.raises(CorruptObject) as e:
        decode_series(msgpack.packb(blob, use_bin_type=True), "ab" * 32)
    assert e.value.reason == reason


def test_a_record_file_over_64_mib_is_corrupt(tmp_path: Path) -> None:
    assert MAX_RECORD_BYTES == 64 << 20
    path = tmp_path / f"{'0' * 32}.json"
    with open(path, "wb") as f:
        f.truncate(MAX_RECORD_BYTES + 1)  # sparse: no 64 MiB written
    with pytest.raises(CorruptRecord) as e:
        read_record(path)
    assert e.value.reason == "larger than 64 MiB"


def test_timestamps_tmt_writes_and_reads(repo) -> None:
    import tmt

    with tmt.start_run("t") as run:
        pass
    rec = read_record(repo.experiments_dir / f"{run.id}.json")
    assert WRITER_TIME.match(rec.created_at) and WRITER_TIME.match(rec.finished_at)
    assert "." in rec.created_at  # a run writes microseconds

    def valid(stamp: str) -> bool:
        data = encode(Record(id="0" * 32, name="x", created_at=stamp))
        try:
            decode(data, "t")
            return True
        except CorruptRecord as e:
            assert e.reason == f"invalid created_at {stamp!r} (ISO 8601 with a UTC offset)"
            return False

    # What every Python tmt supports reads (the Python 3.10 set) ...
    for stamp in ["2024-03-01T12:00:00+00:00", "2024-03-01T12:00:00.123456-05:30", "2024-03-01 12:00:00.123+01:00",
                  "2024-03-01T12:00+00:00", "2024-03-01T12+00:00", "2024-03-01T12:00:00+01:00:30"]:
        assert valid(stamp), stamp
    # ... no time without an offset does ...
    for stamp in ["2024-03-01T12:00:00", "2024-03-01", "yesterday", "2024-03-01T24:00:00+00:00"]:
        assert not valid(stamp), stamp
    # ... and the forms only Python 3.11's fromisoformat knows depend on the interpreter.
    for stamp in ["2024-03-01T12:00:00Z", "2024-03-01T12:00:00+0100", "20240301T120000+00:00",
                  "2024-03-01T12:00:00.1+00:00"]:
        assert valid(stamp) == (sys.version_info >= (3, 11)), stamp
