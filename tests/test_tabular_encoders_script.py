"""benchmarks/tabular_encoders.py reads the stored cells as it says: the encoder's protocol chosen by
cross-validation (never by the test score), one machine kind per table, and issue 20's bar counted
against the trees, logistic regression and SCARF."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tabular_encoders.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("tabular_encoders", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _cell(out: Path, variant: str, dataset: str, fraction: float, draw: int, test: dict, cv: dict,
          features: str = "float32", batches: str | None = None, task: str = "classification",
          logistic_cs: tuple | None = None) -> None:  # fmt: skip
    """A stored cell: ``test`` the test scores, ``cv`` the cross-validation scores (one setting each)."""
    spec = {"dataset": dataset, "fraction": fraction, "draw": draw, "task": task, "features": features}
    cv_key = "cv_accuracy" if task == "classification" else "cv_r2"
    if batches is not None:  # cells stored before fine_tune_batches was a setting have none
        spec["settings"] = {"fine_tune_batches": batches}
    if logistic_cs is not None:  # nor logistic_cs before C was chosen
        spec.setdefault("settings", {})["logistic_cs"] = list(logistic_cs)
    selection = [{"candidate": n, "setting": "", cv_key: v, "cv_std": 0.0, "chosen": False}
                 for n, v in cv.items()]  # fmt: skip
    best = max(cv, key=cv.get)
    record = {"spec": spec, "chosen": {"model": best}, "model": {"score": test[best]},
              "candidates": {n: {"score": v, "setting": ""} for n, v in test.items()}, "notes": [],
              "selection": selection}  # fmt: skip
    runs = out / variant / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{dataset}-{fraction}-{draw}-{features}-{batches}-{logistic_cs}.json").write_text(json.dumps(record))


RAW = {"gbdt-raw": 0.80, "linear-raw": 0.70}
RAW_CV = {"gbdt-raw": 0.5, "linear-raw": 0.4}


def test_the_protocol_is_chosen_by_cross_validation_not_by_the_test_score(script, tmp_path):
    # k-NN is best on the test split, the probe in cross-validation: the measure takes the probe
    for draw, probe in enumerate((0.82, 0.86)):
        _cell(tmp_path, "plain", "a", 0.01, draw, {"probe": probe, "knn": 0.95, "fine-tune": 0.6, **RAW},
              {"probe": 0.9, "knn": 0.8, "fine-tune": 0.7, **RAW_CV})  # fmt: skip
    # a cell of the other machine kind is left out of a float32 table
    _cell(tmp_path, "plain", "a", 0.01, 2, {"probe": 0.0, "knn": 0.0, "fine-tune": 0.0, **RAW},
          {"probe": 0.9, "knn": 0.8, "fine-tune": 0.7, **RAW_CV}, features="bfloat16")  # fmt: skip
    (cell,) = script.summary("plain", tmp_path).values()
    assert cell["draws"] == 2 and cell["cv_choices"] == ["probe", "probe"]
    assert cell["cv"] == pytest.approx(0.84) and cell["cv_std"] == pytest.approx(0.02)
    assert cell["best"] == "knn" and cell["best_score"] == pytest.approx(0.95)  # the optimistic measure
    assert cell["estimator"] == pytest.approx(0.84)  # the estimator picks the probe too (best cv by far)
    assert (cell["trees"], cell["linear"]) == (0.80, 0.70)


def test_the_bar_counts_wins_over_the_better_raw_model_and_over_scarf(script, tmp_path):
    protocols_cv = {"probe": 0.9, "knn": 0.8, "fine-tune": 0.7, **RAW_CV}
    for dataset, ours, theirs in (("a", 0.85, 0.83), ("b", 0.78, 0.79)):  # a beats the trees, b does not
        _cell(tmp_path, "plain", dataset, 0.01, 0, {"probe": ours, "knn": 0.9, "fine-tune": 0.5, **RAW}, protocols_cv)
        _cell(tmp_path, "scarf", dataset, 0.01, 0, {"probe": theirs, "knn": 0.9, "fine-tune": 0.5, **RAW},
              protocols_cv)  # fmt: skip
    _cell(tmp_path, "plain", "c", 0.01, 0, {"probe": 0.99, "knn": 0.9, "fine-tune": 0.5, **RAW}, protocols_cv)
    for draw in (0, 1):  # dataset d: two draws of plain against one of SCARF, not yet comparable
        _cell(tmp_path, "plain", "d", 0.01, draw, {"probe": 0.5, "knn": 0.9, "fine-tune": 0.5, **RAW}, protocols_cv)
    _cell(tmp_path, "scarf", "d", 0.01, 0, {"probe": 0.99, "knn": 0.9, "fine-tune": 0.5, **RAW}, protocols_cv)
    text = script.bar(["plain"], tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| plain"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    # against the trees: every dataset of plain (c beats them; d's probe 0.5 does not); against SCARF, c
    # (no SCARF cell) and d (fewer SCARF draws) are left out; b: 78 against the trees' 80
    assert cells == ["2 of 4 (a, c)", "-30.0", "", "", "1 of 2 (a)", "-1.0"]


def test_two_cells_for_one_draw_are_an_error(script, tmp_path):
    for name in ("x", "y"):
        _cell(tmp_path, "plain", "a", 0.01, 0, {"probe": 0.8, "knn": 0.8, "fine-tune": 0.8, **RAW},
              {"probe": 0.9, "knn": 0.8, "fine-tune": 0.7, **RAW_CV})  # fmt: skip
        runs = tmp_path / "plain" / "runs"
        (runs / "a-0.01-0-float32-None-None.json").rename(runs / f"{name}.json")
    with pytest.raises(ValueError, match="two stored cells"):
        script.summary("plain", tmp_path)


def test_the_probe_measure_shows_the_probe_alone(script, tmp_path):
    # fine-tuning wins cross-validation; the probe measure still shows the probe's own test scores
    for draw, probe in enumerate((0.70, 0.74)):
        _cell(tmp_path, "plain", "a", 0.1, draw, {"probe": probe, "knn": 0.8, "fine-tune": 0.9, **RAW},
              {"probe": 0.6, "knn": 0.7, "fine-tune": 0.8, **RAW_CV})  # fmt: skip
    row = next(line for line in script.table(["plain"], None, None, tmp_path, "probe").splitlines()
               if line.startswith("| plain"))  # fmt: skip
    assert row == "| plain | 72.0 ± 2.0 |"
    assert next(line for line in script.table(["plain"], None, None, tmp_path, "cv").splitlines()
                if line.startswith("| plain")) == "| plain | 90.0 ± 0.0 (2x fine-tune) |"  # fmt: skip


def test_cells_of_even_and_ragged_fine_tuning_batches_are_kept_apart(script, tmp_path):
    cv = {"probe": 0.6, "knn": 0.7, "fine-tune": 0.8, **RAW_CV}
    _cell(tmp_path, "plain", "a", 0.1, 0, {"probe": 0.7, "knn": 0.8, "fine-tune": 0.85, **RAW}, cv)  # stored before
    _cell(tmp_path, "plain", "a", 0.1, 0, {"probe": 0.7, "knn": 0.8, "fine-tune": 0.91, **RAW}, cv, batches="even")
    assert script.summary("plain", tmp_path)[("a", 0.1)]["cv"] == pytest.approx(0.85)
    even = script.Cells(batches="even")
    assert script.summary("plain", tmp_path, even)[("a", 0.1)]["cv"] == pytest.approx(0.91)
    # and the cells whose logistic regression chose C apart from those of the one C = 1
    chosen = script.Cells(batches="even", logistic_cs=(0.01, 0.1, 1.0, 10.0))
    _cell(tmp_path, "plain", "a", 0.1, 0, {"probe": 0.88, "knn": 0.8, "fine-tune": 0.5, **RAW},
          {**cv, "probe": 0.9}, batches="even", logistic_cs=chosen.logistic_cs)  # fmt: skip
    assert script.summary("plain", tmp_path, even)[("a", 0.1)]["cv"] == pytest.approx(0.91)
    assert script.summary("plain", tmp_path, chosen)[("a", 0.1)]["cv"] == pytest.approx(0.88)
    assert "C chosen by cross-validation among 0.01, 0.1, 1, 10" in script.table(["plain"], None, None, tmp_path,
                                                                                  "cv", chosen)  # fmt: skip


def test_a_regression_table_is_read_by_its_r2(script, tmp_path):
    # the eighth dataset is a regression table: cells hold R², chosen by the folds' R², and count in the bar
    raw = {"gbdt-raw": 0.30, "linear-raw": 0.28}
    _cell(
        tmp_path,
        "plain",
        "w",
        0.1,
        0,
        {"probe": 0.25, "knn": 0.20, "fine-tune": 0.33, **raw},
        {"probe": 0.2, "knn": 0.1, "fine-tune": 0.3, "gbdt-raw": 0.25, "linear-raw": 0.2},
        task="regression",
    )
    cell = script.summary("plain", tmp_path)[("w", 0.1)]
    assert cell["cv_choices"] == ["fine-tune"] and cell["cv"] == pytest.approx(0.33)
    row = next(line for line in script.bar(["plain"], tmp_path).splitlines() if line.startswith("| plain"))
    assert [c.strip() for c in row.strip("|").split("|")][3:5] == ["1 of 1 (w)", "+3.0"]
