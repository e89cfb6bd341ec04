"""``mrsweep hardness-check``: registered, runs, prints the table, writes the CSV, one-line errors."""

from __future__ import annotations

import csv

import pytest

from jobs import cli
from jobs.cli_hardness import graphs_line, main


def test_registered_in_mrsweep():
    assert "jobs.cli_hardness" in cli.COMMAND_MODULES


def test_hardness_check_on_the_triangle(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    rc = main(["--sizes", "3", "--densities", "1.0", "--graphs-per-cell", "1", "--c", "0.5,0.75",
               "--no-progress", "--csv", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "\n1 distinct graph\n" in text
    assert ("realised_c = 1 - h/n: fraction of the instance's n points off an h-point hyperplane "
            "(the c actually tested)\n") in text
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


def test_skipped_duplicate_graphs_are_reported(capsys):
    # n=2 has only two graphs (no edge, one edge): 3 asked -> 2 distinct, 1 skipped
    assert main(["--sizes", "2", "--densities", "0.5", "--graphs-per-cell", "3", "--c", "0.5",
                 "--no-progress"]) == 0
    assert "\n2 distinct graphs (1 duplicate skipped)\n" in capsys.readouterr().out
    assert graphs_line(5, 5) == "5 distinct graphs"
    assert graphs_line(3, 6) == "3 distinct graphs (3 duplicates skipped)"


def test_help_is_clean(capsys):
    with pytest.raises(SystemExit):
        cli.main(["hardness-check", "--help"])
    out = capsys.readouterr().out
    assert "``" not in out
    assert "\n\nTest the thesis' vertex cover -> c-DPS reduction on random graphs.\n" in out
    assert "realised_c = 1 - h/n" in out
