"""The catalogue of bundled datasets: names, descriptions, files and citations."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Literal

import pandas as pd

from ..errors import DataError
from ._messages import close_match

__all__ = ["BUNDLED", "DatasetInfo", "bundled_file", "list_datasets", "unknown_dataset_error"]

# The CSV files sit next to this module, in the package itself, so importlib.resources finds
# them in an installed wheel as well as in a source checkout.
_DATA_PACKAGE = "mcsim.data"


@dataclass(frozen=True)
class DatasetInfo:
    """Description of one bundled dataset.

    Attributes
    ----------
    name : str
        Name passed to :func:`load_dataset` / :func:`load_returns`.
    file : str
        File name inside the ``mcsim.data`` package.
    frequency : {"monthly", "annual"}
        Spacing of the rows.
    periods_per_year : int
        12 for monthly, 1 for annual data.
    first, last : pandas.Timestamp
        Period-end dates of the first and last rows.
    rows : int
        Number of data rows.
    columns : tuple of str
        Value columns (the date column excluded).
    kind : {"returns", "levels"}
        ``"returns"``: simple returns per period as decimal fractions. ``"levels"``: index
        levels, prices, CPI and yields, as stored (convert price columns with
        ``load_returns(name, kind="prices", columns=[...])``).
    description : str
        One-line summary.
    citation : str
        How to cite the source.
    date_column : str
        Name of the date column in the file.
    """

    name: str
    file: str
    frequency: Literal["monthly", "annual"]
    periods_per_year: int
    first: pd.Timestamp
    last: pd.Timestamp
    rows: int
    columns: tuple[str, ...]
    kind: Literal["returns", "levels"]
    description: str
    citation: str
    date_column: str = "date"


_SHILLER_CITATION = (
    "Robert J. Shiller, Irrational Exuberance data, 'U.S. Stock Markets 1871-Present and CAPE "
    "Ratio' (ie_data.xls, May-2026 edition), econ.yale.edu/~shiller"
)

BUNDLED: dict[str, DatasetInfo] = {
    "shiller": DatasetInfo(
        name="shiller",
        file="shiller_monthly_returns.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1871-02-28"),
        last=pd.Timestamp("2026-03-31"),
        rows=1862,
        columns=("us_stocks_tr", "us_bonds_10y_tr", "cpi_inflation"),
        kind="returns",
        description=(
            "US stocks (S&P Composite, with dividends) and 10-year Treasury total returns and CPI "
            "inflation, monthly since 1871 (Shiller; stock prices are monthly averages)"
        ),
        citation=_SHILLER_CITATION,
    ),
    "shiller_levels": DatasetInfo(
        name="shiller_levels",
        file="shiller_monthly_levels.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1871-01-31"),
        last=pd.Timestamp("2026-03-31"),
        rows=1863,
        columns=("sp500_price", "sp500_dividend", "sp500_earnings", "cpi", "gs10_yield"),
        kind="levels",
        description=(
            "S&P Composite price, annualised dividend and earnings, CPI and 10-year Treasury "
            "yield (decimal), monthly levels since 1871 (Shiller)"
        ),
        citation=_SHILLER_CITATION,
    ),
    "ff3": DatasetInfo(
        name="ff3",
        file="ff3_monthly.csv",
        frequency="monthly",
        periods_per_year=12,
        first=pd.Timestamp("1926-07-31"),
        last=pd.Timestamp("2025-07-31"),
        rows=1189,
        columns=("mkt_rf", "smb", "hml", "rf", "us_market_tr"),
        kind="returns",
        description=(
            "Fama/French 3 factors, 1-month T-bill (rf) and US market total return "
            "(us_market_tr = mkt_rf + rf), month-end to month-end since 1926-07"
        ),
        citation=(
            "Fama, E. F. and French, K. R. (1993), 'Common risk factors in the returns on stocks "
            "and bonds', Journal of Financial Economics 33(1), 3-56; Kenneth R. French Data "
            "Library, 'Fama/French 3 Factors' (monthly, CRSP 2025-07 vintage)"
        ),
    ),
    "damodaran": DatasetInfo(
        name="damodaran",
        file="damodaran_annual_returns.csv",
        frequency="annual",
        periods_per_year=1,
        first=pd.Timestamp("1928-12-31"),
        last=pd.Timestamp("2025-12-31"),
        rows=98,
        columns=(
            "sp500_tr",
            "us_small_cap_tr",
            "tbill_3m",
            "tbond_10y_tr",
            "baa_corp_bond_tr",
            "real_estate",
            "gold",
            "cpi_inflation",
        ),
        kind="returns",
        description=(
            "Annual US stocks, small caps, T-bills, T-bonds, Baa bonds, real estate (price only), "
            "gold and CPI inflation, calendar years 1928-2025 (Damodaran)"
        ),
        citation=(
            "Aswath Damodaran, Damodaran Online, 'Historical Returns on Stocks, Bonds and Bills' "
            "(histretSP.xls, January-2026 edition), NYU Stern"
        ),
        date_column="year",
    ),
}


def list_datasets() -> pd.DataFrame:
    """Describe the bundled datasets, one row each.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``file``, ``frequency`` ("monthly"/"annual"), ``periods_per_year``,
        ``first`` and ``last`` (period-end timestamps), ``rows``, ``columns`` (comma-separated
        value columns), ``kind`` ("returns"/"levels"), ``description`` and ``citation``.
    """
    records = [
        {
            "name": info.name,
            "file": info.file,
            "frequency": info.frequency,
            "periods_per_year": info.periods_per_year,
            "first": info.first,
            "last": info.last,
            "rows": info.rows,
            "columns": ", ".join(info.columns),
            "kind": info.kind,
            "description": info.description,
            "citation": info.citation,
        }
        for info in BUNDLED.values()
    ]
    return pd.DataFrame.from_records(records)


def unknown_dataset_error(name: str, *, as_path: bool = False) -> DataError:
    """The error for a name that is no bundled dataset, with the closest name as a hint."""
    valid = ", ".join(repr(n) for n in BUNDLED)
    close = close_match(name, list(BUNDLED))
    hint = f" Did you mean {close!r}?" if close else ""
    tail = (
        " It is not a file either; pass a path to a .csv, .xlsx or .parquet file, or a DataFrame."
        if as_path
        else ""
    )
    return DataError(f"Unknown dataset {name!r}.{hint} Valid names: {valid}.{tail}")


def bundled_file(info: DatasetInfo) -> Traversable:
    """The packaged file of a bundled dataset, readable from a wheel or a source checkout.

    Parameters
    ----------
    info : DatasetInfo
        An entry of :data:`BUNDLED`.

    Returns
    -------
    importlib.resources.abc.Traversable
        The file inside the ``mcsim.data`` package; open it with ``.open("r")``.
    """
    return resources.files(_DATA_PACKAGE).joinpath(info.file)
