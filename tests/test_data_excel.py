"""Excel workbooks (.xlsx) as data files: read through pandas and openpyxl, with the checks
of CSV files. Each bad input is written both ways and must fail with the same message."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcsim
from mcsim import cli
from mcsim.data import load_returns
from mcsim.errors import DataError

pytest.importorskip("openpyxl")


def _monthly(n: int = 48, *, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2001-01-31", periods=n, freq="ME")
    return pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "a": rng.normal(0.006, 0.04, n),
            "b": rng.normal(0.003, 0.01, n),
        }
    )


def _both(frame: pd.DataFrame, folder: Path, stem: str = "r") -> tuple[Path, Path]:
    csv, xlsx = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    frame.to_csv(csv, index=False)
    frame.to_excel(xlsx, index=False)
    return csv, xlsx


def _message(path: Path, **kwargs) -> str:
    with pytest.raises(DataError) as e:
        load_returns(path, **kwargs)
    return str(e.value).replace(path.name, "FILE")


def test_xlsx_equals_the_csv_load(tmp_path):
    frame = _monthly()
    csv, xlsx = _both(frame, tmp_path)
    from_csv, from_xlsx = load_returns(csv), load_returns(xlsx)
    assert from_xlsx.index.equals(from_csv.index)
    assert list(from_xlsx.columns) == ["a", "b"]
    # Both file formats store numbers as decimal text (openpyxl with 16 significant digits):
    # each may move the last binary digit of a double, never more.
    written = frame[["a", "b"]].to_numpy()
    np.testing.assert_allclose(from_xlsx.to_numpy(), written, rtol=1e-15, atol=0)
    np.testing.assert_allclose(from_xlsx.to_numpy(), from_csv.to_numpy(), rtol=1e-15, atol=0)
    assert from_xlsx.attrs == {"periods_per_year": 12, "source": str(xlsx)}


def test_date_cells_and_options_work_as_in_csv(tmp_path):
    frame = _monthly()
    csv, _ = _both(frame, tmp_path)
    dated = frame.assign(date=pd.to_datetime(frame["date"]))
    dated.to_excel(tmp_path / "dated.xlsx", index=False)  # real Excel date cells
    kwargs = {"columns": ["b"], "start": "2002-01", "end": "2003-06"}
    expected = load_returns(csv, **kwargs)
    got = load_returns(tmp_path / "dated.xlsx", **kwargs)
    assert got.index.equals(expected.index) and len(got) == 18
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-15, atol=0)


def test_prices_in_a_workbook(tmp_path):
    levels = pd.DataFrame(
        {
            "date": pd.date_range("2001-01-31", periods=30, freq="ME"),
            "p": 100.0 * 1.01 ** np.arange(30),
        }
    )
    levels.to_excel(tmp_path / "p.xlsx", index=False)
    r = load_returns(tmp_path / "p.xlsx", kind="prices")
    np.testing.assert_allclose(r["p"].to_numpy(), 0.01, rtol=1e-12)
    assert len(r) == 29


def _bad_frames() -> dict[str, pd.DataFrame]:
    base = _monthly()
    text = base.astype(object)
    text.loc[7, "a"] = "n/a"
    missing = base.copy()
    missing.loc[9, "b"] = np.nan
    unsorted = base.iloc[[0, 2, 1, *range(3, len(base))]]
    mixed = pd.concat(
        [
            base,
            pd.DataFrame(
                {
                    "date": pd.bdate_range("2005-03-01", periods=40).strftime("%Y-%m-%d"),
                    "a": 0.001,
                    "b": 0.0,
                }
            ),
        ]
    )
    bad_date = base.astype(object)
    bad_date.loc[3, "date"] = "someday"
    implausible = base.copy()
    implausible.loc[4, "a"] = -3.0
    return {
        "text_cell": text,
        "missing_cell": missing,
        "unsorted_dates": unsorted,
        "spacing_changes": mixed,
        "bad_date": bad_date,
        "implausible_return": implausible,
        "one_row": base.iloc[:1],
        "header_only": base.iloc[:0],
    }


@pytest.mark.parametrize("case", list(_bad_frames()))
def test_bad_workbooks_fail_like_csv_files(case, tmp_path):
    csv, xlsx = _both(_bad_frames()[case], tmp_path)
    assert _message(xlsx) == _message(csv)


def test_unknown_column_fails_like_csv(tmp_path):
    csv, xlsx = _both(_monthly(), tmp_path)
    assert _message(xlsx, columns=["a", "c"]) == _message(csv, columns=["a", "c"])


def test_empty_and_damaged_workbooks_are_refused(tmp_path):
    pd.DataFrame().to_excel(tmp_path / "empty.xlsx", index=False)
    with pytest.raises(DataError, match=r"empty\.xlsx' is empty: its first sheet needs a header"):
        load_returns(tmp_path / "empty.xlsx")
    (tmp_path / "damaged.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(
        DataError, match=r"Cannot read file .*damaged\.xlsx' as an Excel workbook"
    ) as e:
        load_returns(tmp_path / "damaged.xlsx")
    assert "not really" not in str(e.value)


def test_missing_openpyxl_names_the_extra(tmp_path, monkeypatch):
    _, xlsx = _both(_monthly(), tmp_path)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    with pytest.raises(
        DataError, match=r'needs openpyxl, which is not installed: pip install "\.\[excel\]"'
    ):
        load_returns(xlsx)


def test_a_scenario_reads_a_workbook(tmp_path, small_table, write_toml, capsys):
    _both(_monthly(120), tmp_path)
    table = small_table(data={"source": "r.xlsx", "columns": ["a", "b"]})
    table["model"] = {"kind": "gaussian"}
    table["portfolio"] = {"target": {"a": 0.6, "b": 0.4}}
    path = write_toml(table, tmp_path / "s.toml")
    scenario = mcsim.Scenario.from_toml(path)
    plan = mcsim.prepare(scenario)
    assert list(plan.asset_names) == ["a", "b"]
    assert cli.main(["validate", str(path)]) == 0
    assert "valid." in capsys.readouterr().out
