"""What `tmt run` reads from a command without running it: metric lines (the grammar of
docs/run.md), params from argv and `--set` rewrites, the saved output, metrics files."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from tmt.runner import argv as argvmod
from tmt.runner.metrics_files import read as read_metrics
from tmt.runner.output import Capture, collapse
from tmt.runner.scalars import Scanner, parse_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("f1: 0.91", (None, {"f1": 0.91})),
        ("loss=0.3", (None, {"loss": 0.3})),
        ("loss = 0.3, acc=1e-3", (None, {"loss": 0.3, "acc": 0.001})),
        ("epoch 3 loss=0.2 acc=0.9", (3, {"loss": 0.2, "acc": 0.9})),
        ("Epoch 3/10 - loss: 0.31 - acc: 0.9", (3, {"loss": 0.31, "acc": 0.9})),
        ("[step 5] val/loss: 0.12", (5, {"val/loss": 0.12})),
        ("step=100 loss=nan acc=-inf", (100, {"loss": math.nan, "acc": -math.inf})),
        ("epoch 1 step 300 loss=0.1", (300, {"loss": 0.1, "epoch": 1})),
        ('{"step": 7, "loss": 0.25}', (7, {"loss": 0.25})),
        ("{'loss': 0.5, 'learning_rate': 5e-05, 'epoch': 0.5}", (None, {"loss": 0.5, "learning_rate": 5e-05, "epoch": 0.5})),
        ("Test accuracy: 0.91", (None, {"Test_accuracy": 0.91})),
        ("INFO:root:loss=0.3", (None, {"loss": 0.3})),
        ("2024-01-01 12:00:00 INFO step 3 loss: 0.4", (3, {"loss": 0.4})),
        ("[2024-01-01 12:00:00,123][__main__][INFO] - loss=0.3", (None, {"loss": 0.3})),
        ("seed=42 is used", (None, {"seed": 42})),
        # not metrics
        ("Note: 3 files", None),
        ("12:30:01 started", None),
        ("time: 12:30", None),
        ("Downloading: 100%", None),
        ("accuracy: 0.91 (best)", None),
        ("Namespace(lr=0.1, epochs=3)", None),
        ("--lr=0.1", None),
        ("saved to step=1000/model.pt", None),
        ("Epoch 1/5", None),
        ("plain text", None),
    ],
)
def test_metric_line_grammar(line: str, expected) -> None:
    got = parse_line(line)
    if expected is None or got is None:
        assert got == expected
        return
    assert got[0] == expected[0]
    assert got[1].keys() == expected[1].keys()
    for k, v in expected[1].items():
        assert got[1][k] == v or (math.isnan(v) and math.isnan(got[1][k]))
        assert type(got[1][k]) is type(v)


def test_scanner_reads_lines_split_across_chunks_as_the_terminal_shows_them() -> None:
    got = []
    scanner = Scanner(lambda step, values: got.append((step, values)))
    data = (b"hello\nepoch 1 loss=0.5\n\x1b[32mf1: 0.9\x1b[0m\r\n 10% loss=0.9\r100% loss=0.1\n"
            b"\x1b[32mepoch \x1b[0m\x1b[1;32m2\x1b[0m \x1b[33mloss\x1b[0m=\x1b[1;36m0\x1b[0m\x1b[1;36m.25\x1b[0m\r\n"
            + b"x" * 100_000 + b" acc=1\nlast=2")
    for i in range(0, len(data), 7):
        scanner.feed(data[i:i + 7])
    scanner.close()
    # the 100 kB line is data, not a metric line
    assert got == [(1, {"loss": 0.5}), (None, {"f1": 0.9}), (None, {"loss": 0.1}), (2, {"loss": 0.25}),
                   (None, {"last": 2})]  # rich colours every part of that pair


@pytest.mark.parametrize(
    ("argv", "params", "options"),
    [
        (["python", "train.py", "--lr", "0.1", "--epochs=3", "--fast", "--name", "x"],
         {"lr": 0.1, "epochs": 3, "fast": True, "name": "x"}, {"lr", "epochs", "fast", "name"}),
        (["python3", "-u", "-W", "ignore", "train.py", "--learning-rate", "-1e-3", "--no-cuda"],
         {"learning_rate": -0.001, "no_cuda": True}, {"learning_rate", "no_cuda"}),
        (["python", "-m", "pkg.train", "model=resnet", "+trainer.gpus=2", "optimizer.lr=0.1", "--debug"],
         {"model": "resnet", "trainer.gpus": 2, "optimizer.lr": 0.1, "debug": True}, {"debug"}),
        (["./train", "--verbose", "data.csv", "-n", "5", "--", "--not-a-param", "1"],
         {"verbose": "data.csv"}, {"verbose"}),
        (["bash", "run.sh", "--flag", "k=v", "--on", "TRUE"], {"flag": True, "k": "v", "on": True}, {"flag", "on"}),
    ],
)
def test_params_from_argv(argv, params, options) -> None:
    assert argvmod.params_from_argv(argv) == (params, options)


@pytest.mark.parametrize(
    ("argv", "name"),
    [(["python", "train.py"], "train"), (["python3", "-m", "pkg.fit"], "fit"), (["./run.sh"], "run"),
     (["make", "all"], "make"), (["bash", "-c", "echo"], "bash"), (["/usr/bin/env"], "env")],
)
def test_default_run_name_from_the_command(argv, name) -> None:
    assert argvmod.default_name(argv) == name


def test_set_rewrites_the_command_line_where_it_spells_the_param() -> None:
    argv = ["python", "t.py", "--lr", "0.1", "--batch-size=32", "--fast", "model=a", "+opt.m=0.9"]
    new, left = argvmod.apply_set(argv, {"lr": "0.5", "batch_size": "64", "fast": "false", "model": "b",
                                         "opt.m": "0.8", "epochs": "9"})
    assert new == ["python", "t.py", "--lr", "0.5", "--batch-size=64", "model=b", "+opt.m=0.8"]
    assert left == {"epochs": "9"}


def test_saved_output_is_text_as_a_terminal_showed_it() -> None:
    raw = b"a\x1b[31mred\x1b[0m\r\nprog 10%\rprog 100%\n\x1b(B\x1b[mok\x1b]0;title\x07 done\tx\x07\n"
    assert collapse(raw) == "ared\nprog 100%\nok done\tx\n"


def test_saved_output_applies_the_cursor_moves_of_multi_line_progress_bars() -> None:
    # two bars redrawn in place (cursor up 2, erase line), as rich and tqdm do
    raw = b"bar1  10%\nbar2  10%\n\x1b[2A\r\x1b[2Kbar1  50%\n\x1b[2Kbar2 100%\n\x1b[?25hend\tx\n"
    assert collapse(raw) == "bar1  50%\nbar2 100%\nend\tx\n"


def test_capture_keeps_head_and_tail_with_a_note_between() -> None:
    cap = Capture(head_bytes=20, tail_bytes=20)
    for i in range(1000):
        cap.feed(b"line %04d\n" % i)
    text = cap.text()
    assert text.startswith("line 0000\nline 0001\n")
    assert text.endswith("line 0998\nline 0999\n")
    assert "[tmt: 9960 bytes (996 lines) of output left out here]\n" in text
    small = Capture()
    small.feed(b"all\n")
    assert small.text() == "all\n"


def test_metrics_file_shapes(tmp_path: Path) -> None:
    one = tmp_path / "m.json"
    one.write_text('{"f1": 0.9, "test": {"acc": 1}, "name": "x", "bad": [1]}')
    assert read_metrics(one).metrics == {"f1": 0.9, "test.acc": 1}
    lines = tmp_path / "m.jsonl"
    lines.write_text('{"epoch": 0, "loss": 1.0}\n{"epoch": 1, "loss": 0.5}\n')
    got = read_metrics(lines)
    assert got.points == [(0, {"loss": 1.0}), (1, {"loss": 0.5})]
    assert got.metrics == {"loss": 0.5}
    bad = tmp_path / "bad.json"
    bad.write_text('"just a string"')
    with pytest.raises(ValueError, match="not a JSON object, nor a list of objects"):
        read_metrics(bad)
