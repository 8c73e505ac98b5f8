from __future__ import annotations

from click.testing import CliRunner

from consolidate.cli import main

from .conftest import ROOT


def test_catalogue_check_prints_counts():
    res = CliRunner().invoke(main, ["catalogue", "check", "--workspace", str(ROOT)])
    assert res.exit_code == 0, res.output
    for line in ("завдань: 7", "заходів: 60", "показників: 72", "рядків фінансування: 33", "виконавців: 46"):
        assert line in res.output


def test_init_creates_workspace(tmp_path):
    res = CliRunner().invoke(main, ["init", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    for sub in ("templates/catalogue.yaml", "templates/executors.csv", "inbox", "out", "consolidate.toml"):
        assert (tmp_path / "w" / sub).exists()
    again = CliRunner().invoke(main, ["init", str(tmp_path / "w")])
    assert again.exit_code == 2 and "вже є робоча тека" in again.output


def test_not_a_workspace_is_a_clear_error(tmp_path):
    res = CliRunner().invoke(main, ["catalogue", "check", "--workspace", str(tmp_path)])
    assert res.exit_code == 2
    assert "не є робочою текою" in res.output
    assert "Traceback" not in res.output


def test_bad_catalogue_exit_code_two(tmp_path, templates_copy):
    (templates_copy / "catalogue.yaml").write_text("programme: {}\ntasks: []\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["catalogue", "check", "--workspace", str(templates_copy.parent)])
    assert res.exit_code == 2
    assert "бракує поля «title»" in res.output


def test_catalogue_show_json():
    import json
    res = CliRunner().invoke(main, ["catalogue", "show", "--json", "--workspace", str(ROOT)])
    data = json.loads(res.output)
    assert len(data["indicators"]) == 72
