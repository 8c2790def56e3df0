"""Data and scenario input that used to crash or be read wrong is refused early and clearly.

Each case is checked through the Python API (the exception and its message) and, for the
scenario-file cases, through ``mcsim run``: exit status 2, one ``mcsim: error:`` line naming
the field, no traceback, and an ``--out`` folder that is byte-identical afterwards.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mcsim
import mcsim.cli
from mcsim.config import DataConfig, SimulationConfig
from mcsim.data import BUNDLED, load_returns
from mcsim.errors import ConfigError, DataError
from mcsim.models import GarchModel, GaussianModel, model_from_config

# A long string that must never appear in a message beyond its first 20 characters.
SECRET = "SECRET-0123456789abcdefghijklmnopqrstuvwxyz-TOKEN-0123456789"
ALLOWED = 20


def _assert_hidden(message: str) -> None:
    assert SECRET[: ALLOWED + 1] not in message, message
    assert message.count("SECRET") <= 1, message


# -- helpers for the command line ------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An output folder holding results of an earlier run."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("policy,mean\nold,1\n")
    (out / ".hidden").write_bytes(b"\x00\x01old")
    return out


def _cli_refuses(scenario: Path, out: Path, capsys, *fragments: str) -> str:
    """Run ``mcsim run`` and check the refusal; return stderr."""
    before = _snapshot(out)
    code = mcsim.cli.main(["run", str(scenario), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("mcsim: error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert _snapshot(out) == before
    return err


def _data_scenario(small_table, write_toml, path: Path, **data: Any) -> Path:
    table = small_table(data={"columns": ["a", "b"], **data})
    table["model"] = {"kind": "gaussian"}
    table["portfolio"] = {"target": {"a": 0.6, "b": 0.4}}
    table["simulation"]["n_paths"] = 8
    table["simulation"]["block_size"] = 8
    table["simulation"]["keep_paths"] = 2
    return write_toml(table, path)


def _monthly_csv(path: Path, n: int = 60, *, start: str = "2000-01-31") -> Path:
    rng = np.random.default_rng(7)
    dates = pd.date_range(start, periods=n, freq="ME")
    pd.DataFrame(
        {"date": dates.strftime("%Y-%m-%d"), "a": rng.normal(0.006, 0.04, n), "b": 0.003}
    ).to_csv(path, index=False)
    return path


# -- 1. messages quote at most one short, truncated cell -------------------------------------
def test_bad_date_cell_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"date,a\n2000-01,0.01\n{SECRET},0.02\n2000-03,0.01\n")
    with pytest.raises(DataError, match=r"line 3 of the file\): cannot read 'SECRET-0123") as e:
        load_returns(path)
    _assert_hidden(str(e.value))
    assert "SECRET-0123456789abc...'" in str(e.value)


def test_bad_month_cell_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("date,a\n2000-01,0.01\n2000-13,0.02\n2000-03,0.01\n")
    with pytest.raises(DataError, match=r"'2000-13' has month 13"):
        load_returns(path)


def test_non_numeric_cell_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"date,a\n2000-01,0.01\n2000-02,{SECRET}\n2000-03,0.01\n")
    with pytest.raises(DataError, match=r"column 'a' has 1 missing or non-numeric") as e:
        load_returns(path)
    _assert_hidden(str(e.value))


def test_header_cells_are_not_listed(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    names = [f"{SECRET}{k}" for k in range(5)]
    rows = "\n".join(f"2000-0{m},0.01,0.02,0.03,0.04,0.05" for m in range(1, 4))
    path.write_text("date," + ",".join(names) + "\n" + rows + "\n")
    with pytest.raises(DataError, match=r"Unknown column 'x'.*has 5 column\(s\)") as e:
        load_returns(path, columns=["x"])
    _assert_hidden(str(e.value))
    with pytest.raises(DataError, match=r"date_column 'when' is not a column") as e:
        load_returns(path, date_column="when")
    _assert_hidden(str(e.value))


def test_a_file_that_is_not_data_is_not_shown(tmp_path: Path) -> None:
    """A path given by mistake (a symlink to a secrets file): its first line is the header."""
    secret_file = tmp_path / "keys.txt"
    secret_file.write_text(f"{SECRET}:{SECRET}\nuser:{SECRET}\nadmin:{SECRET}\n")
    link = tmp_path / "secret.csv"
    link.symlink_to(secret_file)
    with pytest.raises(DataError, match=r"the first column \(taken as dates\)") as e:
        load_returns(link)
    _assert_hidden(str(e.value))


def test_parser_error_names_the_line_not_its_text(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f"date,a\n2000-01,0.01\n2000-02,0.02,{SECRET},{SECRET}\n")
    with pytest.raises(DataError, match=r"line 3 has 4 fields but the header line has 2") as e:
        load_returns(path)
    _assert_hidden(str(e.value))


def test_unclosed_quote_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(f'date,a\n2000-01,0.01\n"2000-02,0.02 {SECRET}\n2000-03,{SECRET}\n')
    with pytest.raises(DataError, match=r"Cannot read file .* as CSV") as e:
        load_returns(path)
    _assert_hidden(str(e.value))


def test_binary_file_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xff\xfe\x00" + SECRET.encode() + b"\x00\x9c")
    with pytest.raises(DataError, match=r"is not UTF-8 text") as e:
        load_returns(path)
    _assert_hidden(str(e.value))


def test_damaged_parquet_is_not_quoted(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    path.write_bytes(b"PAR1" + SECRET.encode() * 3)
    with pytest.raises(DataError, match=r"Cannot read file .* as Parquet") as e:
        load_returns(path)
    _assert_hidden(str(e.value))


def test_cli_secret_file_is_not_shown(small_table, write_toml, tmp_path, out_dir, capsys):
    secret_file = tmp_path / "private" / "keys"
    secret_file.parent.mkdir()
    secret_file.write_text(f"date,a,b\n{SECRET},1,2\n{SECRET},3,4\n")
    (tmp_path / "secret.csv").symlink_to(secret_file)
    scenario = _data_scenario(small_table, write_toml, tmp_path / "s.toml", source="secret.csv")
    err = _cli_refuses(scenario, out_dir, capsys, "`[data].source`", "secret.csv")
    _assert_hidden(err)


# -- 2. relative data paths are taken from the scenario file's folder ------------------------
def test_relative_path_is_read_from_the_scenario_folder(
    small_table, write_toml, tmp_path, monkeypatch, capsys
):
    scen = tmp_path / "project"
    (scen / "data").mkdir(parents=True)
    _monthly_csv(scen / "data" / "r.csv")
    scenario = _data_scenario(small_table, write_toml, scen / "s.toml", source="data/r.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = mcsim.Scenario.from_toml(scenario).data
    assert data.resolved_source() == str(scen / "data" / "r.csv")
    assert mcsim.cli.main(["validate", str(scenario)]) == 0
    assert "valid" in capsys.readouterr().out


def test_relative_path_is_not_read_from_the_current_folder(
    small_table, write_toml, tmp_path, monkeypatch, out_dir, capsys
):
    """A file of the same name in the current folder is not a silent fallback."""
    scen = tmp_path / "project"
    scen.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    _monthly_csv(cwd / "r.csv")
    scenario = _data_scenario(small_table, write_toml, scen / "s.toml", source="r.csv")
    monkeypatch.chdir(cwd)
    expected = str(scen / "r.csv")
    with pytest.raises(ConfigError, match=r"`\[data\]\.source` = 'r\.csv': no file at") as e:
        mcsim.run(mcsim.Scenario.from_toml(scenario))
    assert expected in str(e.value)
    assert "taken from the scenario file's folder" in str(e.value)
    _cli_refuses(scenario, out_dir, capsys, "`[data].source`", expected, "scenario file's folder")


def test_relative_path_with_dots_is_resolved_too(tmp_path: Path) -> None:
    _monthly_csv(tmp_path / "r.csv")
    sub = tmp_path / "configs"
    sub.mkdir()
    data = DataConfig(source="../r.csv", base_dir=str(sub))
    assert data.resolved_source() == str(tmp_path / "r.csv")


def test_bundled_names_stay_names(tmp_path: Path) -> None:
    (tmp_path / "shiller").write_text("not data\n")
    assert DataConfig(source="shiller", base_dir=str(tmp_path)).resolved_source() == "shiller"


def test_misspelt_bundled_name_is_refused_with_a_suggestion(
    small_table, write_toml, tmp_path, out_dir, capsys
):
    scenario = _data_scenario(small_table, write_toml, tmp_path / "s.toml", source="shiler")
    with pytest.raises(DataError, match=r"Unknown dataset 'shiler'\. Did you mean 'shiller'"):
        mcsim.run(mcsim.Scenario.from_toml(scenario))
    _cli_refuses(scenario, out_dir, capsys, "`[data].source`", "Did you mean 'shiller'")


# -- 3. files with no or too few data rows ----------------------------------------------------
def test_header_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("date,a,b\n")
    for kwargs in ({}, {"columns": ["a"]}, {"columns": ["a"], "periods_per_year": 12}):
        with pytest.raises(DataError, match=r"r\.csv' has no data rows, only a header line"):
            load_returns(path, **kwargs)
    with pytest.raises(DataError, match=r"at least 3 rows of prices"):
        load_returns(path, kind="prices", columns=["a"])


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"r\.csv' is empty: a CSV file needs a header line"):
        load_returns(path, columns=["a"])


def test_one_data_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("date,a\n2000-01,0.01\n")
    with pytest.raises(DataError, match=r"r\.csv' has 1 row\(s\); at least 2 rows are needed"):
        load_returns(path)
    with pytest.raises(DataError, match=r"at least 3 prices \(2 returns\)"):
        load_returns(path, kind="prices")


def test_one_data_row_dataframe_is_refused() -> None:
    frame = pd.DataFrame({"a": [0.01]}, index=pd.DatetimeIndex(["2000-01-31"], name="date"))
    with pytest.raises(DataError, match=r"DataFrame has 1 row\(s\); at least 2"):
        load_returns(frame)


@pytest.mark.parametrize("text", ["date,a,b\n", ""], ids=["header_only", "empty"])
def test_cli_file_without_rows(small_table, write_toml, tmp_path, out_dir, capsys, text):
    (tmp_path / "r.csv").write_text(text)
    scenario = _data_scenario(small_table, write_toml, tmp_path / "s.toml", source="r.csv")
    _cli_refuses(scenario, out_dir, capsys, "`[data].", "r.csv")


# -- 4. a change of spacing inside the data --------------------------------------------------
def _mixed_frame() -> pd.DataFrame:
    monthly = pd.date_range("2000-01-31", periods=120, freq="ME")
    daily = pd.bdate_range("2010-03-01", periods=60)
    dates = monthly.append(daily)
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "a": 0.001, "b": 0.002})


def test_monthly_then_daily_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    _mixed_frame().to_csv(path, index=False)
    match = (
        r"the spacing of the dates changes\. Most rows are monthly .* from row 121 "
        r"\(date 2010-03-01, line 122 of the file\) to row 180 \(date 2010-05-21.*1-3 days apart"
    )
    with pytest.raises(DataError, match=match) as e:
        load_returns(path)
    assert "end='2009-12-31'" in str(e.value)
    # The monthly part alone is fine.
    assert len(load_returns(path, end="2009-12")) == 120


def test_daily_then_monthly_is_refused() -> None:
    daily = pd.bdate_range("2005-03-01", periods=200)
    monthly = pd.date_range("2006-01-31", periods=60, freq="ME")
    frame = pd.DataFrame({"r": 0.001}, index=daily.append(monthly).rename("date"))
    with pytest.raises(DataError, match=r"Most rows are daily .* from row 201 \(date 2006-01-31"):
        load_returns(frame)


def test_a_row_inside_a_month_is_refused() -> None:
    dates = pd.date_range("2000-01-31", periods=36, freq="ME").append(
        pd.DatetimeIndex(["2003-01-15"])
    )
    dates = dates.sort_values().append(pd.date_range("2003-01-31", periods=12, freq="ME"))
    frame = pd.DataFrame({"r": 0.001}, index=dates.rename("date"))
    with pytest.raises(DataError, match=r"row 37 \(date 2003-01-15\)"):
        load_returns(frame)


def test_gaps_of_the_data_own_calendar_still_load(tmp_path: Path) -> None:
    # Monthly data missing two months: a gap, read as before (118 returns, monthly).
    monthly = pd.date_range("2000-01-31", periods=120, freq="ME").delete([50, 51])
    out = load_returns(pd.DataFrame({"r": 0.001}, index=monthly.rename("date")))
    assert len(out) == 118 and out.attrs["periods_per_year"] == 12
    # Trading days with a week-long market closure and holidays.
    days = pd.bdate_range("2001-06-01", "2001-12-31").drop(
        pd.bdate_range("2001-09-11", "2001-09-14")
    )
    days = days.drop(pd.DatetimeIndex(["2001-07-04", "2001-11-22", "2001-12-25"]))
    out = load_returns(pd.DataFrame({"r": 0.001}, index=days.rename("date")))
    assert out.attrs["periods_per_year"] == 252
    # Month ends labelled by the last trading day.
    bme = pd.date_range("2000-01-31", periods=60, freq="BME")
    assert load_returns(pd.DataFrame({"r": 0.0}, index=bme.rename("date"))).shape == (60, 1)


def test_bundled_datasets_load_unchanged() -> None:
    from importlib import resources

    for info in BUNDLED.values():
        if info.kind == "levels":
            continue
        with resources.files("mcsim.data").joinpath(info.file).open() as fh:
            raw = pd.read_csv(fh)
        loaded = load_returns(info.name)
        assert len(loaded) == info.rows
        np.testing.assert_array_equal(loaded.to_numpy(), raw[list(info.columns)].to_numpy())
    prices = load_returns("shiller_levels", kind="prices", columns=["sp500_price"])
    assert len(prices) == BUNDLED["shiller_levels"].rows - 1


def test_cli_mixed_spacing(small_table, write_toml, tmp_path, out_dir, capsys):
    _mixed_frame().to_csv(tmp_path / "r.csv", index=False)
    scenario = _data_scenario(small_table, write_toml, tmp_path / "s.toml", source="r.csv")
    _cli_refuses(scenario, out_dir, capsys, "`[data].source`", "spacing of the dates changes")


# -- 5. Parquet numbers stored as text --------------------------------------------------------
def _parquet(tmp_path: Path, **columns: Any) -> Path:
    dates = pd.date_range("2000-01-31", periods=24, freq="ME")
    frame = pd.DataFrame({"date": dates, **columns})
    path = tmp_path / "r.parquet"
    frame.to_parquet(path, index=False)
    return path


def test_parquet_numbers_stored_as_text_are_refused(tmp_path: Path) -> None:
    path = _parquet(tmp_path, a=np.full(24, 0.01), b=["0.002"] * 24)
    match = r"column 'b' is stored as .* \(text\), not as numbers.*astype\('float64'\)"
    with pytest.raises(DataError, match=match):
        load_returns(path)
    with pytest.raises(DataError, match=match):
        load_returns(path, columns=["a", "b"])
    assert load_returns(path, columns=["a"]).shape == (24, 1)


def test_parquet_text_labels_are_still_skipped(tmp_path: Path) -> None:
    path = _parquet(tmp_path, ticker=["SPY"] * 24, a=np.full(24, 0.01))
    assert list(load_returns(path).columns) == ["a"]


def test_csv_cells_are_still_parsed_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    rows = "\n".join(f'2000-{m:02d},"0.01"' for m in range(1, 13))
    path.write_text("date,a\n" + rows + "\n")
    assert load_returns(path)["a"].tolist() == [0.01] * 12


def test_cli_parquet_text_numbers(small_table, write_toml, tmp_path, out_dir, capsys):
    _parquet(tmp_path, a=np.full(24, 0.01), b=["0.002"] * 24)
    scenario = _data_scenario(small_table, write_toml, tmp_path / "s.toml", source="r.parquet")
    _cli_refuses(scenario, out_dir, capsys, "`[data].", "column 'b' is stored as", "float")


# -- 6. scenario values that crashed ----------------------------------------------------------
SIMULATION_RULES = {
    "huge_horizon": (
        {"horizon_years": 1e308},
        r"`\[simulation\]\.horizon_years` must be <= 1000",
    ),
    "infinite_horizon": (
        {"horizon_years": float("inf")},
        r"`\[simulation\]\.horizon_years` must be a finite number",
    ),
    "too_many_steps": (
        {"horizon_years": 1000, "steps_per_year": 100_000},
        r"`\[simulation\]\.horizon_years` x `steps_per_year` = 100,000,000 steps; at most "
        r"10,000,000",
    ),
    "one_step": (
        {"horizon_years": 1, "steps_per_year": 1},
        r"`\[simulation\]\.horizon_years` = 1 with `\[simulation\]\.steps_per_year` = 1 gives "
        r"1 step; at least 2 are needed.*Lengthen `horizon_years` or raise `steps_per_year`",
    ),
    "one_monthly_step": (
        {"horizon_years": 1 / 12, "steps_per_year": 12},
        r"gives 1 step; at least 2",
    ),
}


@pytest.mark.parametrize("rule", list(SIMULATION_RULES))
def test_simulation_rule(rule, small_table, write_toml, tmp_path, out_dir, capsys):
    changes, match = SIMULATION_RULES[rule]
    base = {k: v for k, v in small_table()["simulation"].items() if k not in changes}
    with pytest.raises(ConfigError, match=match):
        SimulationConfig(**base, **changes)
    scenario = write_toml(small_table(simulation=changes), tmp_path / "s.toml")
    _cli_refuses(scenario, out_dir, capsys, "`[simulation].horizon_years`")


def test_two_steps_are_accepted() -> None:
    assert SimulationConfig(horizon_years=2, steps_per_year=1).n_steps == 2
    assert SimulationConfig(horizon_years=1000, steps_per_year=10_000).n_steps == 10_000_000


_GAUSS = {"kind": "gaussian", "assets": ["stocks", "bonds"], "mu": [0.07, 0.03]}
_GAUSS_FULL = {**_GAUSS, "vol": [0.18, 0.06], "corr": [[1.0, 0.2], [0.2, 1.0]]}
_GARCH = {
    "kind": "garch",
    "correlation": "constant",
    "assets": ["stocks", "bonds"],
    "mu": [0.07, 0.03],
    "vol": [0.18, 0.06],
    "alpha": [0.08, 0.05],
    "beta": [0.9, 0.9],
    "corr": [[1.0, 0.2], [0.2, 1.0]],
    "periods_per_year": 12,
}
_REGIME = {
    "kind": "regime",
    "assets": ["stocks", "bonds"],
    "means": [[0.12, 0.04], [-0.05, 0.05]],
    "vols": [[0.12, 0.05], [0.25, 0.07]],
    "corrs": [[[1.0, 0.1], [0.1, 1.0]], [[1.0, -0.2], [-0.2, 1.0]]],
    "transition": [[0.95, 0.05], [0.2, 0.8]],
}

MODEL_RULES = {
    "gaussian_ragged_corr": (
        {**_GAUSS_FULL, "corr": [[1, 0.2], [0.2]]},
        r"`\[model\]\.corr` must be a 2x2 matrix: a list of 2 rows, each a list of 2 numbers; "
        r"`\[model\]\.corr\[1\]` has 1 value\(s\) but `\[model\]\.corr\[0\]` has 2",
    ),
    "gaussian_flat_corr": (
        {**_GAUSS_FULL, "corr": [1, 0.2, 0.2, 1]},
        r"`\[model\]\.corr` must be a 2x2 matrix.*`\[model\]\.corr\[0\]` is 1, not a list",
    ),
    "gaussian_text_corr": (
        {**_GAUSS_FULL, "corr": "identity"},
        r"`\[model\]\.corr` must be a 2x2 matrix.*is 'identity', not a list",
    ),
    "gaussian_text_in_corr": (
        {**_GAUSS_FULL, "corr": [[1, "0.2"], [0.2, 1]]},
        r"`\[model\]\.corr\[0\]\[1\]` must be a number; got '0\.2'",
    ),
    "gaussian_corr_too_deep": (
        {**_GAUSS_FULL, "corr": [[[1], [0.2]], [[0.2], [1]]]},
        r"`\[model\]\.corr\[0\]\[0\]` must be a number; got \[1\]",
    ),
    "gaussian_nested_mu": (
        {**_GAUSS_FULL, "mu": [[0.07], 0.03]},
        r"`\[model\]\.mu\[stocks\]` must be a number; got \[0\.07\]",
    ),
    "gaussian_nested_vol": (
        {**_GAUSS_FULL, "vol": [0.18, [0.06]]},
        r"`\[model\]\.vol\[bonds\]` must be a number",
    ),
    "student_t_ragged_corr": (
        {**_GAUSS_FULL, "kind": "student_t", "df": 5, "corr": [[1, 0.2], [0.2]]},
        r"`\[model\]\.corr` must be a 2x2 matrix",
    ),
    "garch_ragged_corr": (
        {**_GARCH, "corr": [[1, 0.2], [0.2]]},
        r"`\[model\]\.corr` must be a 2x2 matrix.*`\[model\]\.corr\[1\]` has 1 value",
    ),
    "garch_nested_alpha": (
        {**_GARCH, "alpha": [[0.08], 0.05]},
        r"`\[model\]\.alpha\[stocks\]` must be a number",
    ),
    "garch_ragged_start_q": (
        {
            **_GARCH,
            "correlation": "dcc",
            "dcc_a": 0.02,
            "dcc_b": 0.9,
            "start_vol": [0.18, 0.06],
            "start_q": [[1, 0.2], [0.2]],
        },
        r"`\[model\]\.start_q` must be a 2x2 matrix.*`\[model\]\.start_q\[1\]` has 1 value",
    ),
    "regime_ragged_corrs": (
        {**_REGIME, "corrs": [[[1, 0.1], [0.1]], [[1, 0], [0, 1]]]},
        r"`\[model\]\.corrs\[0\]` must be a 2x2 matrix.*`\[model\]\.corrs\[0\]\[1\]` has 1",
    ),
    "regime_ragged_transition": (
        {**_REGIME, "transition": [[0.95, 0.05], [0.2]]},
        r"`\[model\]\.transition` must be a matrix.*`\[model\]\.transition\[1\]` has 1 value",
    ),
    "regime_nested_means": (
        {**_REGIME, "means": [[[0.12], 0.04], [-0.05, 0.05]]},
        r"`\[model\]\.means\[0\]\[stocks\]` must be a number",
    ),
    "regime_ragged_last_probs": (
        {**_REGIME, "start": "last", "last_probs": [[0.5], 0.5]},
        r"`\[model\]\.last_probs\[0\]` must be a number; got \[0\.5\]",
    ),
    "regime_text_last_probs": (
        {**_REGIME, "start": "last", "last_probs": "even"},
        r"`\[model\]\.last_probs` must be a list of 2 numbers",
    ),
}


@pytest.mark.parametrize("rule", list(MODEL_RULES))
def test_model_rule(rule, small_table, write_toml, tmp_path, out_dir, capsys):
    section, match = MODEL_RULES[rule]
    with pytest.raises(ConfigError, match=match):
        model_from_config(copy.deepcopy(section))
    table = small_table()
    table["model"] = copy.deepcopy(section)
    scenario = write_toml(table, tmp_path / "s.toml")
    field = match.split("`")[1].replace("\\", "")  # the field the message starts with
    _cli_refuses(scenario, out_dir, capsys, field)


def test_ragged_parameters_in_code_are_refused() -> None:
    names = ["stocks", "bonds"]
    with pytest.raises(ConfigError, match=r"`\[model\]\.corr` must be a 2x2 matrix"):
        GaussianModel(mu=[0.07, 0.03], vol=[0.18, 0.06], corr=[[1, 0.2], [0.2]], names=names)
    with pytest.raises(ConfigError, match=r"`\[model\]\.vol\[1\]` must be a number"):
        GaussianModel(mu=[0.07, 0.03], vol=[0.18, [0.06]], corr=np.eye(2), names=names)
    with pytest.raises(ConfigError, match=r"`\[model\]\.mu\[0\]` must be a number; got \[0\.07\]"):
        GaussianModel(mu=[[0.07], [0.03, 0.01]])
    with pytest.raises(ConfigError, match=r"`\[model\]\.mu\[0\]` must be a number; got \[0\.07\]"):
        GarchModel(mu=[[0.07], [0.03, 0.01]])
    # ndarrays keep working, as before.
    model = GaussianModel(
        mu=np.array([0.07, 0.03]), vol=np.array([0.18, 0.06]), corr=np.eye(2), names=names
    )
    assert model.names_ == names
