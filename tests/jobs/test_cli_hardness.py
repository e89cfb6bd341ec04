"""``mrsweep hardness-check``: registered, runs, prints the table, writes the CSV, one-line errors."""

from __future__ import annotations

import csv

from jobs import cli
from jobs.cli_hardness import main


def test_registered_in_mrsweep():
    assert "jobs.cli_hardness" in cli.COMMAND_MODULES


def test_hardness_check_on_the_triangle(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    rc = main(["--sizes", "3", "--densities", "1.0", "--graphs-per-cell", "1", "--c", "0.5,0.75",
               "--no-progress", "--csv", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "graphs=1" in text
    # triangle: min cover 2; k = 1 is the one disagreement per c (beta_d = 1 loophole)
    assert "   1/2                1/2         3      2        1         0 |" in text
    assert "k=1 min_cover=2 VC=False DPS=True beta_d=1: 2 / 2" in text
    assert "k=1 c=1/2 n=3 E=[(0,1),(0,2),(1,2)] min_cover=2 VC=False DPS=True max=8/h=8" in text
    rows = list(csv.DictReader(out.open()))
    assert [(r["k"], r["c"], r["agree"]) for r in rows] == [
        ("1", "1/2", "False"), ("1", "3/4", "False"), ("2", "1/2", "True"), ("2", "3/4", "True"),
        ("3", "1/2", "True"), ("3", "3/4", "True")]


def test_bad_c_is_a_one_line_user_error(capsys):
    assert main(["--c", "0.5,1.2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--c" in err and "0 < c < 1" in err
