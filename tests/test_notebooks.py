"""Runs recorded from a real Jupyter kernel (nbclient + ipykernel): the notebook's path when
it can be known, the executed cells always (tmt/recorder/notebook.py)."""
from __future__ import annotations

from pathlib import Path

import nbformat  # nbformat, nbclient and ipykernel: in the [test] extra
import pytest
from nbclient import NotebookClient

import tmt
from tmt.records.io import read_record, record_files
from tmt.recorder.notebook import notebook_path

CELLS = [
    "import tmt",
    "lr = 0.1  # a cell never saved to disk",
    'with tmt.start_run(params={"lr": lr}) as run:\n    run.log({"loss": 1.0}, step=0)\n    run.log({"loss": 0.5}, step=1)',
    "@tmt.recorder(name='fit')\ndef fit(epochs=2):\n    return {'acc': 0.75}\nfit()",
]


def execute(project: Path, cells: list[str], filename: str = "explore.ipynb", allow_errors: bool = False) -> None:
    """Write a notebook and execute it in a real kernel started in `project`, as Jupyter does."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, project / filename)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, startup_timeout=120, allow_errors=allow_errors,
                            resources={"metadata": {"path": str(project)}})
    client.execute()


def records(project: Path) -> list:
    folder = project / ".tmt" / "experiments"
    return sorted((read_record(p) for p in record_files(folder)), key=lambda r: r.created_at)


@pytest.mark.slow  # a real kernel starts: seconds
def test_a_notebook_whose_path_is_known_names_the_run_and_keeps_its_cells(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmt.init()
    # what Jupyter's server sets for the kernel of a notebook it opened
    monkeypatch.setenv("JPY_SESSION_NAME", str(project / "explore.ipynb"))
    execute(project, CELLS)
    started, fit = records(project)
    assert (started.name, started.status, started.params) == ("explore", "completed", {"lr": 0.1})
    assert started.env["notebook"] == "explore.ipynb"
    assert tmt.get(started.id).series("loss").values == [1.0, 0.5]
    cells = tmt.get(started.id).artifacts["notebook_cells"]
    assert cells.filename == "notebook_cells.py"
    text = cells.load()
    assert "# %% In[2]\nlr = 0.1  # a cell never saved to disk\n" in text
    assert "# %% In[3]\nwith tmt.start_run" in text and "def fit" not in text  # as it was when the run started
    assert (fit.name, fit.env["notebook"], fit.metrics) == ("fit", "explore.ipynb", {"acc": 0.75})
    assert "def fit(epochs=2)" in tmt.get(fit.id).artifacts["notebook_cells"].load()


@pytest.mark.slow  # a real kernel starts: seconds
def test_a_notebook_whose_path_is_unknown_still_keeps_its_cells(project: Path) -> None:
    tmt.init()
    execute(project, CELLS[:3])
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("notebook", "completed")
    assert "notebook" not in rec.env
    text = tmt.get(rec.id).artifacts["notebook_cells"].load()
    assert text.startswith("# The cells the kernel executed, in order, when the run started (notebook: unknown)\n")
    assert "# %% In[1]\nimport tmt\n" in text


@pytest.mark.slow  # a real kernel starts: seconds
def test_a_run_an_integration_started_ends_with_the_cell_that_raised(project: Path) -> None:
    tmt.init()
    execute(project, [
        "from tmt.integrations.core import AdapterRun\nadapter = AdapterRun()",
        "adapter.log({'loss': 1.0}, step=0)\nraise FloatingPointError('diverged')  # the framework's end never comes",
        "adapter.log({'loss': 0.5}, step=0)\nadapter.end()",
    ], allow_errors=True)
    failed, rerun = records(project)
    assert (failed.status, failed.error["type"], failed.error["message"]) == ("failed", "FloatingPointError", "diverged")
    assert (rerun.status, rerun.parent) == ("completed", failed.id)


class Shell:
    def __init__(self, **ns: object) -> None:
        self.user_ns = ns


def test_the_notebook_path_comes_from_the_first_source_that_knows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vsc = str(tmp_path / "vscode.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "jupyter.ipynb"))
    assert notebook_path(Shell(__vsc_ipynb_file__=vsc, __session__="x.ipynb")) == vsc
    assert notebook_path(Shell(__session__="x.ipynb")) == str(tmp_path / "jupyter.ipynb")
    monkeypatch.setenv("TMT_NOTEBOOK", str(tmp_path / "mine.ipynb"))
    assert notebook_path(Shell(__vsc_ipynb_file__=vsc)) == str(tmp_path / "mine.ipynb")
    monkeypatch.delenv("TMT_NOTEBOOK")
    monkeypatch.setenv("JPY_SESSION_NAME", "Console 1")  # a console's session: no notebook
    assert notebook_path(Shell()) is None
