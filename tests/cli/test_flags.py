"""Flags defined once: lists parsed and checked in one place for every command, config files read through
the flags' own types, the graph domain on the command line."""

import json

import pytest

from dacl.cli import build_parser, main
from helpers import shared_data

TINY = ["--depth", "2", "--width", "16", "--head-depth", "2", "--projection-dim", "8", "--epochs", "1", "--quiet"]


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "labels", "--datasets", "digits", "--methods", "dacl,dacl"],
        ["reproduce", "labels", "--datasets", "digits", "--methods", ""],
        ["reproduce", "labels", "--datasets", ","],
        ["reproduce", "labels", "--datasets", "digits", "--fractions", ""],
        ["reproduce", "labels", "--datasets", "digits", "--fractions", "0.1,0"],
        ["reproduce", "table4", "--datasets", "MUTAG,MUTAG"],
        ["compare", "--data", "digits", "--methods", "dacl,,raw"],
        ["fit", "--data", "x.csv", "--label", "y", "--candidates", "probe,probe"],
        ["bench", "--batch-sizes", "64,64"],
    ],
)
def test_empty_or_repeated_list_items_are_refused_when_the_arguments_are_parsed(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([*args, "--out", str(tmp_path / "out")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "given twice" in err or "none empty" in err or "(0, 1]" in err, err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_the_shared_flags_are_one_definition_with_one_meaning_everywhere():
    parser = build_parser()
    seen: dict[str, set] = {}
    for command in parser.commands.values():
        for action in command._actions:
            if action.dest in ("device", "quiet", "data_dir", "debug", "config"):
                seen.setdefault(action.dest, set()).add((tuple(action.option_strings), type(action).__name__))
    assert set(seen) == {"device", "quiet", "data_dir", "debug", "config"}
    assert all(len(kinds) == 1 for kinds in seen.values()), seen  # the same spelling and kind in every command
    assert all("--debug" in {s for a in c._actions for s in a.option_strings} for c in parser.commands.values())


def test_config_file_values_are_parsed_by_their_flags(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text('data: digits\nmethod: dacl\nquiet: "no"\nresume: "false"\nepochs: 1\nmixup-types: [linear]\n')
    parser = build_parser()
    from dacl.cli.config_file import apply_config_file

    apply_config_file(parser, parser.commands["pretrain"], str(config), "pretrain")
    args = parser.parse_args(["pretrain", "--out", str(tmp_path / "o")])
    assert args.quiet is False and args.resume is False and args.epochs == 1 and args.mixup_types == ("linear",)
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: digits\nscale: cubic\n")
    assert main(["pretrain", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "scale: 'cubic' is not one of minmax, standard" in capsys.readouterr().err


@pytest.mark.skipif(not (shared_data() / "TU" / "MUTAG").is_dir(), reason="needs ../shared/data/TU")
def test_pretrain_and_evaluate_a_graph_encoder_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "gin"
    args = ["pretrain", "--domain", "graphs", "--data", "MUTAG", "--data-dir", str(shared_data() / "TU"),
            "--width", "16", "--epochs", "1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "dacl on MUTAG (188 graphs): 1 epochs" in capsys.readouterr().out
    assert main(["evaluate", "--checkpoint", str(out), "--out", str(tmp_path / "scores")]) == 0
    row = json.loads((tmp_path / "scores" / "results.json").read_text())["rows"][0]
    assert row["dataset"] == "MUTAG" and 0.5 < row["accuracy"] <= 1
