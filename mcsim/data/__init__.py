"""Historical return data: the bundled datasets, users' own files, and their frequency.

Every loader returns the same tidy shape:

* a :class:`pandas.DatetimeIndex` named ``"date"``, strictly increasing, of period-END timestamps
  (a monthly ``"1871-02"`` becomes 1871-02-28, an annual ``1928`` becomes 1928-12-31; full dates
  such as daily ``2008-01-02`` are kept as given);
* one float64 column per asset, holding **simple returns per period as decimal fractions**
  (0.01 = 1 %), nominal, labelled by the date at which the period ends;
* ``df.attrs["periods_per_year"]`` (int: 252, 365, 52, 12, 4 or 1, or the value passed
  explicitly) and ``df.attrs["source"]`` (dataset name, file path or ``"DataFrame"``).

Errors in the data raise :class:`mcsim.errors.DataError` with a message that names the column,
the row and the fix. Row numbers in messages count data rows from 1 (the header row of a file
is not counted, so row ``n`` is line ``n + 1`` of a CSV file). A message quotes at most one cell
of a file's content besides the column it is about, cut to 20 characters (a path given by
mistake may point at a file that is not meant to be shown); it never passes on a parser's text,
which can hold a whole line.

The four bundled files (see ``mcsim/data/PROVENANCE.md`` for sources, checks and citations) sit
in this package and are read with :mod:`importlib.resources`, so they load from an installed
wheel as well as from a source checkout.

The package has one module per job: :mod:`~mcsim.data.catalogue` (what is bundled),
:mod:`~mcsim.data.files` (reading and checking tables) and :mod:`~mcsim.data.frequency`
(periods per year, spacing of dates, resampling and alignment).
"""

from .catalogue import BUNDLED, DatasetInfo, list_datasets
from .files import DateLike, load_dataset, load_returns
from .frequency import align_returns, infer_periods_per_year, resample_returns

__all__ = [
    "BUNDLED",
    "DatasetInfo",
    "DateLike",
    "align_returns",
    "infer_periods_per_year",
    "list_datasets",
    "load_dataset",
    "load_returns",
    "resample_returns",
]
