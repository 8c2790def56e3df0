"""Bad input is refused early, with a message naming the field, and never costs old results.

Every rule below is checked through ``mcsim.run`` (or the file reader) with
``mcsim.engine.simulate_block`` replaced by a spy: the error must come before any block is
simulated. The second half checks that a run failing in validation, while simulating, or
while saving never changes what is already in its output folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.cli
import mcsim.report
from mcsim import engine
from mcsim.errors import ConfigError, DataError


@pytest.fixture
def spy(monkeypatch) -> list[int]:
    """Blocks simulated while the test runs (must stay empty for a refused scenario)."""
    calls: list[int] = []
    real = engine.simulate_block

    def simulate_block(plan, block):
        calls.append(block)
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", simulate_block)
    return calls


def _refused(table, exc, match, *, base_dir=None, spy):
    with pytest.raises(exc, match=match):
        mcsim.run(mcsim.Scenario.from_dict(table, base_dir=base_dir))
    assert spy == []


def _without(table, section, key):
    del table[section][key]
    return table


# (changes to the small table, error, message pattern naming the field)
CONFIG_RULES = {
    # unknown keys, with a suggestion where one is close
    "unknown_top_level": (
        {"simulaton": {"n_paths": 5}},
        r"Unknown key `scenario\.simulaton`\. Did you mean `simulation`\?",
    ),
    "unknown_simulation": (
        {"simulation": {"n_path": 5}},
        r"Unknown key `\[simulation\]\.n_path`\. Did you mean `n_paths`\?",
    ),
    "unknown_model": ({"model": {"vols": [0.1, 0.1]}}, r"`\[model\]\.vols`\. Did you mean `vol`"),
    "unknown_portfolio": (
        {"portfolio": {"targets": {}}},
        r"`\[portfolio\]\.targets`\. Did you mean `target`",
    ),
    "unknown_costs": (
        {"costs": {"proportional": 10}},
        r"`\[costs\]\.proportional`\. Did you mean `proportional_bps`",
    ),
    "unknown_flows": (
        {"flows": [{"amout": 10}]},
        r"`\[\[flows\]\]\.amout`\. Did you mean `amount`",
    ),
    "unknown_taxes": ({"taxes": {"enabld": True}}, r"`\[taxes\]\.enabld`\. Did you mean `enabled`"),
    "unknown_policy_key": (
        {"policies": [{"name": "q", "kind": "calendar", "evry": 3}]},
        r"`\[policies\.q\]\.evry`\. Did you mean `every`",
    ),
    "unknown_comparison": (
        {"comparison": {"baselin": "q"}},
        r"`\[comparison\]\.baselin`\. Did you mean `baseline`",
    ),
    "unknown_data": (
        {"data": {"source": "shiller", "column": ["x"]}},
        r"`\[data\]\.column`\. Did you mean `columns`",
    ),
    # required parts
    "missing_target": ({"portfolio": {}}, r"`\[portfolio\]\.target` is required"),
    "missing_policies": ({"policies": None}, r"`\[\[policies\]\]` is required"),
    "empty_policies": ({"policies": []}, r"`\[\[policies\]\]` is required"),
    # weights and model parameters
    "weights_do_not_sum_to_one": (
        {"portfolio": {"target": {"stocks": 0.6, "bonds": 0.5}}},
        r"`\[portfolio\]\.target` must sum to 1; got 1\.1",
    ),
    "negative_weight": (
        {"portfolio": {"target": {"stocks": 1.2, "bonds": -0.2}}},
        r"`\[portfolio\]\.target\[bonds\]` must be >= 0",
    ),
    "negative_volatility": (
        {"model": {"vol": [-0.1, 0.05]}},
        r"`\[model\]\.vol\[stocks\]` must be >= 0; got -0\.1",
    ),
    "non_numeric_volatility": (
        {"model": {"vol": ["high", 0.05]}},
        r"`\[model\]\.vol\[stocks\]` must be a number; got 'high'",
    ),
    "correlation_not_symmetric": (
        {"model": {"corr": [[1.0, 0.2], [0.3, 1.0]]}},
        r"`\[model\]\.corr` must be symmetric",
    ),
    "correlation_wrong_diagonal": (
        {"model": {"corr": [[1.0, 0.2], [0.2, 0.9]]}},
        r"`\[model\]\.corr` must have ones on the diagonal",
    ),
    "correlation_not_psd": (
        {
            "model": {
                "assets": ["a", "b", "c"],
                "mu": [0.05, 0.05, 0.05],
                "vol": [0.1, 0.1, 0.1],
                "corr": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]],
            },
            "portfolio": {"target": {"a": 0.4, "b": 0.3, "c": 0.3}},
        },
        r"`\[model\]\.corr` is not positive semi-definite",
    ),
    "correlation_wrong_size": (
        {"model": {"corr": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]}},
        r"`\[model\]\.corr` must be a 2x2 matrix.*; got 3x3",
    ),
    # the simulation grid
    "horizon_zero": ({"simulation": {"horizon_years": 0}}, r"`\[simulation\]\.horizon_years`"),
    "n_paths_zero": (
        {"simulation": {"n_paths": 0}},
        r"`\[simulation\]\.n_paths` must be >= 1; got 0",
    ),
    "steps_per_year_zero": (
        {"simulation": {"steps_per_year": 0}},
        r"`\[simulation\]\.steps_per_year` must be >= 1; got 0",
    ),
    "horizon_not_whole_steps": (
        {"simulation": {"horizon_years": 1.05}},
        r"`\[simulation\]\.horizon_years` x `steps_per_year` = 12\.6 is not a whole number",
    ),
    "n_paths_not_integer": (
        {"simulation": {"n_paths": 10.5}},
        r"`\[simulation\]\.n_paths` must be an integer",
    ),
    # policies
    "duplicate_policy_names": (
        {
            "policies": [
                {"name": "q", "kind": "calendar", "every": 3},
                {"name": "q", "kind": "calendar", "every": 1},
            ]
        },
        r"`\[\[policies\]\]`: policy names must be unique; repeated: \['q'\]",
    ),
    "unknown_baseline": (
        {"comparison": {"baseline": "nope"}},
        r"`\[comparison\]\.baseline` = 'nope' is not a policy",
    ),
    "unknown_policy_kind": (
        {"policies": [{"name": "q", "kind": "calender", "every": 3}]},
        r"`\[policies\.q\]\.kind` must be one of .*Did you mean 'calendar'\?",
    ),
    "target_names_unknown_asset": (
        {"portfolio": {"target": {"stocks": 0.6, "gold": 0.4}}},
        r"`\[portfolio\]\.target` names 'gold', which the model does not simulate",
    ),
}


@pytest.mark.parametrize("rule", list(CONFIG_RULES))
def test_config_rule(rule, small_table, spy):
    changes, match = CONFIG_RULES[rule]
    table = small_table(**changes)
    if "model" in changes and "assets" in changes["model"]:
        table["model"] = dict(changes["model"], kind="gaussian")
    if rule == "missing_target":
        table["portfolio"] = {}
    _refused(table, ConfigError, match, spy=spy)


def test_every_message_says_how_to_fix_or_what_is_allowed(small_table, spy):
    """Spot check: messages carry a fix, not only the complaint."""
    table = small_table(simulation={"n_path": 5})
    with pytest.raises(ConfigError) as info:
        mcsim.run(mcsim.Scenario.from_dict(table))
    assert "Allowed keys:" in str(info.value)
    table = small_table(portfolio={"target": {"stocks": 0.6, "bonds": 0.5}})
    with pytest.raises(ConfigError, match="Rescale the weights"):
        mcsim.run(mcsim.Scenario.from_dict(table))
    assert spy == []


def test_memory_refusal_names_n_paths(small_table, spy):
    scenario = mcsim.Scenario.from_dict(small_table())
    with pytest.raises(ConfigError, match=r"n_paths") as info:
        mcsim.run(scenario, max_memory=10_000)
    assert "GiB" in str(info.value)
    assert spy == []


def test_bad_n_jobs_is_refused(small_table, spy):
    scenario = mcsim.Scenario.from_dict(small_table())
    with pytest.raises(ConfigError, match=r"`n_jobs` must be a positive integer or -1"):
        mcsim.run(scenario, n_jobs=0)
    assert spy == []


# -- files and data ------------------------------------------------------------------------
def test_invalid_toml_file(tmp_path, spy):
    path = tmp_path / "broken.toml"
    path.write_text("name = 'x'\n[simulation\nn_paths = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML: .*line 2"):
        mcsim.Scenario.from_toml(path)
    with pytest.raises(ConfigError, match=r"Scenario file '.*missing\.toml' does not exist"):
        mcsim.Scenario.from_toml(tmp_path / "missing.toml")
    assert spy == []


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Small monthly CSV files of returns: good, with a NaN, unsorted, and too short."""
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)

    def write(name, n=60, edit=None):
        dates = pd.date_range("2000-01-31", periods=n, freq="ME")
        df = pd.DataFrame(
            {
                "date": dates.strftime("%Y-%m-%d"),
                "a": rng.normal(0.006, 0.04, n),
                "b": rng.normal(0.003, 0.01, n),
                "cpi": 0.002,
            }
        )
        if edit is not None:
            edit(df)
        df.to_csv(d / name, index=False)

    write("good.csv")
    write("nan.csv", edit=lambda df: df.__setitem__("a", df["a"].where(df.index != 10)))

    def swap(df):
        df.loc[[20, 21], "date"] = df.loc[[21, 20], "date"].to_numpy()

    write("unsorted.csv", edit=swap)
    write("short.csv", n=4)
    return d


def _data_table(small_table, **data):
    table = small_table(data={"columns": ["a", "b"], **data})
    table["model"] = {"kind": "gaussian"}
    table["portfolio"] = {"target": {"a": 0.6, "b": 0.4}}
    return table


DATA_RULES = {
    "nan_in_history": (
        {"source": "nan.csv"},
        r"nan\.csv': column 'a' has 1 missing or non-numeric value.*row 11",
    ),
    "dates_not_increasing": (
        {"source": "unsorted.csv"},
        r"unsorted\.csv': dates must be strictly increasing",
    ),
    "too_few_rows_to_fit": (
        {"source": "short.csv"},
        r"The gaussian model needs at least \d+ rows of returns .* the data has 4",
    ),
    "inflation_column_missing": (
        {"source": "good.csv", "columns": None, "inflation": "cpix"},
        r"`\[data\]\.inflation` = 'cpix' is not a column of the data",
    ),
    "inflation_column_missing_with_columns": (
        {"source": "good.csv", "inflation": "cpix"},
        r"Unknown column 'cpix'.*Did you mean 'cpi'",
    ),
    "unknown_column": ({"source": "good.csv", "columns": ["a", "c"]}, r"Unknown column 'c'"),
}


@pytest.mark.parametrize("rule", list(DATA_RULES))
def test_data_rule(rule, small_table, data_dir, spy):
    data, match = DATA_RULES[rule]
    table = _data_table(small_table, **data)
    table["data"] = {k: v for k, v in table["data"].items() if v is not None}
    _refused(table, DataError, match, base_dir=data_dir, spy=spy)


def test_source_does_not_exist(small_table, data_dir, spy):
    """A missing file is named by its field and the path it was looked for at."""
    table = _data_table(small_table, source="no_such_file.csv")
    match = (
        r"`\[data\]\.source` = 'no_such_file\.csv': no file at '.*no_such_file\.csv'\. "
        r"Relative paths are taken from the scenario file's folder"
    )
    _refused(table, ConfigError, match, base_dir=data_dir, spy=spy)


def test_good_data_file_runs(small_table, data_dir):
    """The data rules above fail for their one defect: the clean file runs."""
    table = _data_table(small_table, source="good.csv", inflation="cpi")
    res = mcsim.run(mcsim.Scenario.from_dict(table, base_dir=data_dir), n_paths=8)
    assert res.plan.asset_names == ["a", "b"]
    assert res.manifest["inflation_series"] == "cpi"


# -- a failed run never damages an output folder ------------------------------------------
OLD_FILES = {"summary.csv": "old summary\n", "paths.parquet": "old paths\n", "notes.txt": "mine\n"}


def _folder_with_old_results(path: Path) -> Path:
    path.mkdir()
    for name, text in OLD_FILES.items():
        (path / name).write_text(text)
    return path


def _assert_untouched(out: Path, allow_checkpoint: bool = False) -> None:
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == set(OLD_FILES)
    for name, text in OLD_FILES.items():
        assert (out / name).read_text() == text
    hidden = [p for p in out.iterdir() if p.name.startswith(".")]
    if allow_checkpoint:
        # Only finished blocks, kept so that a rerun resumes.
        assert [p.name for p in hidden] == [".mcsim-checkpoint"]
        for p in (out / ".mcsim-checkpoint").rglob("*"):
            assert p.is_dir() or re.fullmatch(r"block_\d{6}\.npz", p.name), p
        assert len(list(out.glob(".mcsim-checkpoint/run-*/block_*.npz"))) == 2
    else:
        assert hidden == []


def _cli(scenario_file, out) -> list[str]:
    return ["run", str(scenario_file), "--out", str(out), "--no-progress"]


def test_failed_validation_leaves_the_output_folder_alone(
    small_table, write_toml, tmp_path, capsys, spy
):
    out = _folder_with_old_results(tmp_path / "out")
    path = write_toml(small_table(simulation={"horizon_years": 0}), tmp_path / "bad.toml")
    assert mcsim.cli.main(_cli(path, out)) == 2
    assert "`[simulation].horizon_years` must be > 0" in capsys.readouterr().err
    # An error found when the data are read or the model is built: same.
    path = write_toml(
        small_table(portfolio={"target": {"stocks": 0.6, "gold": 0.4}}), tmp_path / "bad2.toml"
    )
    assert mcsim.cli.main(_cli(path, out)) == 2
    assert "names 'gold'" in capsys.readouterr().err
    assert spy == []
    _assert_untouched(out)


def test_failure_while_simulating_leaves_the_output_folder_alone(
    small_table, write_toml, tmp_path, monkeypatch
):
    out = _folder_with_old_results(tmp_path / "out")
    path = write_toml(small_table(), tmp_path / "s.toml")
    real = engine.simulate_block

    def failing(plan, block):
        if block == 2:
            raise RuntimeError("worker lost")
        return real(plan, block)

    monkeypatch.setattr(engine, "simulate_block", failing)
    with pytest.raises(RuntimeError, match="worker lost"):
        mcsim.cli.main(_cli(path, out))
    _assert_untouched(out, allow_checkpoint=True)


def test_failure_while_saving_leaves_the_output_folder_alone(
    small_table, write_toml, tmp_path, monkeypatch
):
    out = _folder_with_old_results(tmp_path / "out")
    path = write_toml(small_table(), tmp_path / "s.toml")

    def failing_report(result, path):
        Path(path).write_text("half a report")
        raise OSError("disk full")

    monkeypatch.setattr(mcsim.report, "write_report", failing_report)
    assert mcsim.cli.main(_cli(path, out)) == 2
    # The simulated blocks stay so that a rerun saves without simulating again.
    assert len(list(out.glob(".mcsim-checkpoint/run-*/block_*.npz"))) == 4
    shutil.rmtree(out / ".mcsim-checkpoint")
    _assert_untouched(out)
    # The same through the Python API.
    res = mcsim.run(mcsim.Scenario.from_toml(path), n_paths=8)
    with pytest.raises(OSError, match="disk full"):
        res.save(out)
    _assert_untouched(out)
