"""atheris (libFuzzer for Python) over the fuzz targets: any exception that is not a TmtError
is reported as a crash and the process exits non-zero.

    python tests/reliability/fuzz_atheris.py PROJECT WORKDIR -runs=100000
PROJECT is a folder with a .tmt store (fuzz_targets.make_store builds one).
"""
from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports():
    import fuzz_targets as ft
    import tmt.query
    import tmt.records.io
    import tmt.snapshot.tree  # noqa: F401 - imported to be instrumented

from tmt.repo import Repo  # noqa: E402

REPO = Repo.find(Path(sys.argv[1]))
WORK = Path(sys.argv[2])


def one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 3)
    if which == 0:
        ft.decode_tree(fdp.ConsumeBytes(fdp.remaining_bytes()))
    elif which == 1:
        ft.read_record(WORK, fdp.ConsumeBytes(fdp.remaining_bytes()))
    elif which == 2:
        ft.get_ref(REPO, fdp.ConsumeUnicodeNoSurrogates(64))
    else:
        ft.where(REPO, [fdp.ConsumeUnicodeNoSurrogates(48) for _ in range(fdp.ConsumeIntInRange(1, 3))])


if __name__ == "__main__":
    atheris.Setup([sys.argv[0], *sys.argv[3:]], one)
    atheris.Fuzz()
