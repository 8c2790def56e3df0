"""Saving a result: its files, written into a staging folder and placed all at once.

:func:`save_result` locks the folder, removes killed saves' debris, writes every file into a
staging folder (``mcsim.output.write_staged``) and moves them into place with
``manifest.json`` last, so a failure leaves earlier results untouched. Only once every file
is in place are the run's checkpoint blocks removed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import report as report_module
from .disk import REPORT_BYTES, RESULT_FILES_BYTES, DiskNeed, check_disk, same_disk
from .failure import write_failure_csv
from .output import check_folder, clean_stale, locked, write_staged
from .path_store import link_or_copy_tree

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = ["RESULT_FILES", "STRESS_FILES", "save_result"]

#: Files a save writes, by kind (``report`` only when asked for).
RESULT_FILES = {
    "paths": "paths.parquet",
    "summary": "summary.csv",
    "comparison": "comparison.csv",
    "fan": "fan.csv",
    "real_fan": "real_fan.csv",
    "sample_paths": "sample_paths.parquet",
    "manifest": "manifest.json",
    "report": "report.html",
    "ranking": "ranking.csv",
}
#: Files of stress testing, written only by runs that have them: ``stress`` with
#: ``[[stresses]]``, ``failure`` with ``[failure]``.
STRESS_FILES = {"stress": "stress.csv", "failure": "failure.csv"}


def save_result(
    result: SimulationResult,
    out_dir: str | os.PathLike[str],
    *,
    report: bool | str = True,
    out_name: str = "out_dir",
) -> dict[str, Path]:
    """Write ``result`` into ``out_dir``; files appear only once all are written.

    Writes ``paths.parquet`` (one row per policy and path; for a streamed run a folder,
    the Parquet dataset of :mod:`mcsim.path_store`, hard-linked from the run's copy where
    the file system allows, so saving does not copy the table), ``summary.csv``,
    ``comparison.csv``, ``fan.csv`` (and ``real_fan.csv`` when the run simulates inflation),
    ``sample_paths.parquet``, ``manifest.json`` and ``report.html``; with stresses
    ``stress.csv`` and with ``[failure]`` ``failure.csv``. The folder is locked while saving
    (see ``mcsim.output``), and staging folders of killed saves are removed. Once every file
    is in place, the run's checkpoint blocks (if any) are removed.

    Parameters
    ----------
    result : SimulationResult
        What to save.
    out_dir : path
        The folder, created if needed.
    report : bool or {"inline", "directory"}
        Also write ``report.html``: True or ``"inline"`` with plotly.js embedded;
        ``"directory"`` with plotly.js in ``plotly.min.js`` beside it (kind ``"plotly"``).
    out_name : str
        How messages name the folder.

    Returns
    -------
    dict of str to Path
        The files written, by kind (keys of :data:`RESULT_FILES`).

    Raises
    ------
    OutputError
        When the folder cannot be created, locked or written (the message names the file
        and the reason, such as "No space left on device").
    """
    if report and report is not True:
        report_module.check_plotly_mode(report, "report")
    out = check_folder(out_dir, out_name)
    with locked(out, out_name):
        clean_stale(out)
        _check_space_for_table(result, out, out_name, report=report)
        files = write_staged(
            out,
            lambda d: _write(result, d, report=report),
            label=out_name,
            last="manifest",
        )
        result.remove_checkpoint()
    return files


def _check_space_for_table(
    result: SimulationResult, out: Path, out_name: str, *, report: bool | str
) -> None:
    """Refuse, before writing, to copy a streamed table onto a disk too small for it.

    On the disk of the table the save hard-links its files (no bytes); elsewhere (a result
    streamed to the temporary folder, saved on another disk) it copies them.
    """
    store = result.path_store
    if store is None or same_disk(store.folder, out):
        return
    need = DiskNeed(out, out_name, {"per-path table": store.nbytes_on_disk()})
    need.parts["result files"] = RESULT_FILES_BYTES + (REPORT_BYTES if report else 0)
    check_disk(
        [need],
        f"save into a folder on a disk with more space, or free some space; the result's "
        f"table stays in {str(store.folder)!r} while the result lives",
    )


def _write(result: SimulationResult, d: Path, *, report: bool | str) -> dict[str, Path]:
    files = {kind: d / name for kind, name in RESULT_FILES.items() if report or kind != "report"}
    if result.ranking is None:
        del files["ranking"]
    else:
        result.ranking.to_csv(files["ranking"], index=False, float_format="%.10g")
    if result.real_fan is None:
        del files["real_fan"]
    else:
        result.real_fan.to_csv(files["real_fan"])
    if result.path_store is not None:
        link_or_copy_tree(result.path_store.folder, files["paths"])
    else:
        _write_paths(result, files["paths"])
    result.summary.to_csv(files["summary"])
    result.comparison.to_csv(files["comparison"])
    result.fan.to_csv(files["fan"])
    sp = result.sample_paths.copy()
    sp.columns = [str(c) for c in sp.columns]
    sp.reset_index().to_parquet(files["sample_paths"], index=False)
    if result.stress_names:
        files["stress"] = d / STRESS_FILES["stress"]
        result.stress.to_csv(files["stress"])
    if result.failure is not None:
        files["failure"] = write_failure_csv(result.failure, d / STRESS_FILES["failure"])
    files["manifest"].write_text(json.dumps(result.manifest, indent=2, default=_json_default))
    if report:
        # Looked up at call time, so the report writer can be replaced (tests fail it).
        if report == "directory":
            report_module.write_report(result, files["report"], plotly="directory")
            files["plotly"] = d / report_module.PLOTLY_FILE
        else:
            report_module.write_report(result, files["report"])
    return files


def _write_paths(result: SimulationResult, path: Path) -> None:
    paths = result.paths.reset_index()
    paths["policy"] = paths["policy"].astype("category")
    if result.window_starts is not None:
        # History replayed: each path is a window, named by the date it starts.
        starts = np.tile(result.window_starts.values, len(result.policy_names))
        paths.insert(2, "window_start", starts)
    paths.to_parquet(path, index=False)


def _json_default(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return str(x)
