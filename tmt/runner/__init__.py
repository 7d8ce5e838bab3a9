"""Recording commands that know nothing of tmt: `tmt run -- CMD` and `tmt rerun REF`.

    tmt/runner/command.py   the recording of one command (RunSpec -> RunResult)
    tmt/runner/process.py   the process: session, pseudo-terminal or pipes, signals, fate
    tmt/runner/output.py    the output as the run keeps it (head + tail, as a terminal showed it)
    tmt/runner/scalars.py   metrics read from output lines (the grammar)
    tmt/runner/argv.py      params read from the command line; --set rewrites it
    tmt/runner/metrics_files.py   metrics read from JSON files the command writes
    tmt/runner/rerun.py     tmt rerun: REF's code, argv and params again
    tmt/runner/bootstrap/   sitecustomize for the command's Python: what argparse/click parsed

Imported only by the `run` and `rerun` commands (`import tmt` never loads it). The child's
side of the attach protocol is tmt/recorder/attach.py.
"""

#: the artifact a recorded command's output is saved as (`tmt show REF --output`)
OUTPUT_ARTIFACT = "output"
