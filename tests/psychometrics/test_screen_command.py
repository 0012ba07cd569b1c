"""manage.py screen --pvq21 PVQ.csv [--bfi10 BFI.csv] --out DECISIONS.csv [--rules JSON] [--allow-missing]."""

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from psychometrics.stats.careless import reference_answers
from psychometrics.stats.filtering import INDEX_COLUMNS


def write(path, header, rows):
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def pvq_file(path, rows):
    return write(path, ["participant_id", *(f"q{q}" for q in range(1, 22))], rows)


def bfi_file(path, rows):
    return write(path, ["participant_id", *(f"q{q}" for q in range(1, 11))], rows)


def screen(*args) -> str:
    out = io.StringIO()
    call_command("screen", *map(str, args), stdout=out)
    return out.getvalue()


def read(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def real_rows(n, offset=0):
    return [[f"r{i}", *map(int, row)] for i, row in enumerate(reference_answers("PVQ-21")[offset : offset + n])]


def test_the_output_has_the_documented_columns_and_one_row_per_participant(tmp_path):
    rng = np.random.default_rng(1)
    rows = real_rows(200) + [["flat", *[4] * 21]] + [[f"rand{i}", *rng.integers(1, 7, 21)] for i in range(20)]
    bfi = bfi_file(tmp_path / "bfi.csv", [["r0", 2, 4, 2, 4, 1, 4, 2, 5, 2, 5], ["bfi_only", 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]])
    output = screen("--pvq21", pvq_file(tmp_path / "pvq.csv", rows), "--bfi10", bfi, "--out", tmp_path / "d.csv")
    decisions = read(tmp_path / "d.csv")
    assert list(decisions[0]) == ["participant_id", "kept", "reasons", *INDEX_COLUMNS]
    by_id = {d["participant_id"]: d for d in decisions}
    assert len(decisions) == 222 and "bfi_only" in by_id
    assert by_id["flat"]["kept"] == "0" and "identical_pvq21" in by_id["flat"]["reasons"].split(";")
    assert by_id["bfi_only"]["kept"] == "0" and by_id["bfi_only"]["reasons"] == "identical_bfi10"
    assert by_id["bfi_only"]["pvq21_longstring"] == ""  # no PVQ-21 answers: its rules are skipped
    assert sum(by_id[f"rand{i}"]["kept"] == "0" for i in range(20)) >= 16
    kept_real = [d for d in decisions if d["participant_id"].startswith("r") and not d["participant_id"].startswith("rand")]
    assert sum(d["kept"] == "1" for d in kept_real) >= 0.9 * len(kept_real)
    assert all(d["reasons"] == "" for d in decisions if d["kept"] == "1")
    assert "222 participants" in output and "identical_pvq21" in output


def test_rules_come_from_json_or_a_json_file(tmp_path):
    pvq = pvq_file(tmp_path / "pvq.csv", real_rows(50) + [["flat", *[4] * 21]])
    screen("--pvq21", pvq, "--out", tmp_path / "a.csv", "--rules", '{"exclude_identical_answers": false, '
           '"max_longstring_pvq21": null, "outlier_rate": null}')
    assert all(d["kept"] == "1" for d in read(tmp_path / "a.csv"))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_pvq21_consistency": 0.99}))
    screen("--pvq21", pvq, "--out", tmp_path / "b.csv", "--rules", rules)
    assert sum("inconsistent_pvq21" in d["reasons"] for d in read(tmp_path / "b.csv")) > 10


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('{"outlier_rte": 0.1}', "Unknown filter rule 'outlier_rte'"),
        ('{"outlier_rate": 2}', "outlier_rate must be 0 to 0.5"),
        ("{not json", "not valid JSON"),
        ("missing.json", "neither a JSON object nor an existing file"),
    ],
)
def test_bad_rules_are_a_clear_error(tmp_path, rules, message):
    pvq = pvq_file(tmp_path / "pvq.csv", real_rows(5))
    with pytest.raises(CommandError, match=message):
        screen("--pvq21", pvq, "--out", tmp_path / "d.csv", "--rules", rules)


def test_blank_and_out_of_range_answers_name_file_line_and_column(tmp_path):
    rows = real_rows(3)
    rows[1][5] = ""
    pvq = pvq_file(tmp_path / "pvq.csv", rows)
    with pytest.raises(CommandError, match=r"pvq\.csv, line 3, column 'q5': is blank"):
        screen("--pvq21", pvq, "--out", tmp_path / "d.csv")
    assert not (tmp_path / "d.csv").exists()
    screen("--pvq21", pvq, "--out", tmp_path / "d.csv", "--allow-missing")
    decisions = {d["participant_id"]: d for d in read(tmp_path / "d.csv")}
    assert decisions["r1"]["pvq21_outlier_score"] == "" and decisions["r1"]["pvq21_longstring"] != ""
    rows[1][5] = 7
    with pytest.raises(CommandError, match=r"line 3, column 'q5': '7' is not an answer; PVQ-21 answers are whole numbers 1-6"):
        screen("--pvq21", pvq_file(tmp_path / "pvq.csv", rows), "--out", tmp_path / "e.csv", "--allow-missing")
    rows[1][5] = 3
    pvq = pvq_file(tmp_path / "pvq.csv", rows)
    bfi = bfi_file(tmp_path / "bfi.csv", [["x", 1, 2, 3, 4, 5, 6, 1, 2, 3, 4]])
    with pytest.raises(CommandError, match=r"bfi\.csv, line 2, column 'q6': '6' is not an answer; BFI-10 answers"):
        screen("--pvq21", pvq, "--bfi10", bfi, "--out", tmp_path / "e.csv", "--allow-missing")


def test_file_problems_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="file not found"):
        screen("--pvq21", tmp_path / "nope.csv", "--out", tmp_path / "d.csv")
    bad = write(tmp_path / "bad.csv", ["participant_id", *(f"q{q}" for q in range(1, 21))], [])
    with pytest.raises(CommandError, match="missing column 'q21'"):
        screen("--pvq21", bad, "--out", tmp_path / "d.csv")
    twice = pvq_file(tmp_path / "twice.csv", real_rows(2) + real_rows(1))
    with pytest.raises(CommandError, match="participant 'r0' appears again"):
        screen("--pvq21", twice, "--out", tmp_path / "d.csv")
    with pytest.raises(CommandError, match="does not exist"):
        screen("--pvq21", twice, "--out", tmp_path / "no" / "d.csv")


def test_help_names_the_interface(capsys):
    with pytest.raises(SystemExit):
        call_command("screen", "--help")
    text = capsys.readouterr().out
    for flag in ("--pvq21", "--bfi10", "--out", "--rules", "--allow-missing"):
        assert flag in text
