"""The :class:`RunJournal`: every finished evaluation of a run, durable on disk."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import joblib
import numpy as np
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.study import StudyDirection

from .._optuna import quiet_optuna
from ..evaluation import Evaluation, Status
from ..exceptions import EvoensWarning, InvalidInputError
from ._files import RunLock, repair_tail, write_atomic, write_with
from ._layout import RunLayout
from ._records import from_attrs, to_trial

__all__ = ["RunJournal", "read_evaluations", "STUDY_NAME", "RETRIED_ON_RESUME"]

#: the Optuna study holding the run's evaluations (what ``optuna-dashboard`` shows)
STUDY_NAME = "evoens"

#: outcomes a resumed run does not replay but evaluates again (see :meth:`RunJournal.load`)
RETRIED_ON_RESUME = (Status.TIMEOUT, Status.KILLED)

#: settings that may change between sessions of one run (everything else must match)
_FREE_SETTINGS = ("params",)


class RunJournal:
    """The durable record of a run, in a run directory.

    Each finished evaluation is one trial of an Optuna study kept in Optuna's
    journal file format (``journal.log``, appended and fsync'ed per record),
    so ``optuna-dashboard journal.log`` can watch a run live.  The
    out-of-fold predictions (``oof/ID.npy``) and fold models
    (``models/ID.joblib``) of each ``ok`` evaluation are written, fsync'ed and
    renamed into place *before* its record is appended: a record in the
    journal always has its files.

    Use :meth:`open`; then :meth:`load`, :meth:`append` per evaluation and
    :meth:`close`.

    Parameters
    ----------
    layout : RunLayout
    storage : optuna.storages.JournalStorage
    study_id : int
    lock : RunLock
    compress : int
        joblib compression level for the fold models (0: none, fastest).
    """

    def __init__(
        self,
        layout: RunLayout,
        storage: JournalStorage,
        study_id: int,
        lock: RunLock,
        compress: int = 0,
    ):
        self.layout = layout
        self._storage = storage
        self._study_id = study_id
        self._lock = lock
        self.compress = compress

    # -- opening --------------------------------------------------------------
    @classmethod
    def open(
        cls, run_dir, settings: dict, fingerprint: str, folds, compress: int = 0
    ) -> "RunJournal":
        """Open the run in ``run_dir``, creating it, or checking that it is this run.

        Raises
        ------
        InvalidInputError
            The directory holds a run made for another dataset, other folds or
            other settings.
        RunDirectoryBusyError
            Another process is writing to the directory.
        """
        layout = RunLayout.at(run_dir)
        layout.root.mkdir(parents=True, exist_ok=True)
        lock = RunLock(layout.lock).acquire()
        try:
            if layout.settings.exists():
                _check_same_run(layout, settings, fingerprint, folds)
            else:
                _start_run(layout, settings, fingerprint, folds)
            storage, study_id = _open_storage(layout, {"fingerprint": fingerprint, **settings})
        except BaseException:
            lock.release()
            raise
        return cls(layout, storage, study_id, lock, compress)

    # -- writing -----------------------------------------------------------------
    def append(self, evaluation: Evaluation, engine=None) -> None:
        """Record one finished evaluation durably (files first, then the journal line).

        A candidate evaluated again (see :meth:`load`) gets a second record;
        the latest one counts.
        """
        if evaluation.ok:
            self._write_artifacts(evaluation)
        self._storage.create_new_trial(self._study_id, template_trial=to_trial(evaluation))

    def _write_artifacts(self, evaluation: Evaluation) -> None:
        if evaluation.oof is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(evaluation.oof), allow_pickle=False)
            write_atomic(self.layout.oof(evaluation.id), buffer.getvalue())
        if evaluation.models is not None:
            write_with(
                self.layout.models(evaluation.id),
                lambda tmp: joblib.dump(list(evaluation.models), tmp, compress=self.compress),
            )

    # -- reading -------------------------------------------------------------------
    def load(self, artifacts: bool = True) -> dict[int, Evaluation]:
        """The evaluations a resumed run replays, by candidate id, with OOF predictions and models.

        Each candidate's latest record, except those with a status in
        :data:`RETRIED_ON_RESUME` (``timeout``, ``killed``): those outcomes
        depend on the run's budget and machine more than on the pipeline (an
        evaluation cut off by the end of the time budget is a timeout), so a
        resumed run evaluates them again.
        """
        records = _evaluations(self._storage, self._study_id, self.layout, artifacts)
        return {i: e for i, e in records.items() if e.status not in RETRIED_ON_RESUME}

    def close(self) -> None:
        """Release the run directory (records are already on disk)."""
        self._lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_evaluations(run_dir, artifacts: bool = False) -> dict[int, Evaluation]:
    """Every candidate's latest record, read without taking the run's lock (the run
    may be going on).

    A torn last line (a write in progress, or a killed writer) is skipped.
    """
    layout = RunLayout.at(run_dir)
    if not layout.journal.exists():
        raise InvalidInputError(
            f"{layout.root} holds no run journal ({layout.journal.name} not found)"
        )
    storage = _storage(layout)
    try:
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except KeyError:
        return {}
    return _evaluations(storage, study_id, layout, artifacts)


# -- helpers ---------------------------------------------------------------------
def _start_run(layout: RunLayout, settings: dict, fingerprint: str, folds) -> None:
    write_atomic(layout.fingerprint, (fingerprint + "\n").encode())
    arrays = {}
    for k, (train, test) in enumerate(folds):
        arrays[f"train_{k}"], arrays[f"test_{k}"] = np.asarray(train), np.asarray(test)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(layout.folds, buffer.getvalue())
    # settings.json last: its presence says the run directory is complete
    write_atomic(
        layout.settings, json.dumps(settings, indent=2, sort_keys=True, default=repr).encode()
    )


def _check_same_run(layout: RunLayout, settings: dict, fingerprint: str, folds) -> None:
    stored_fp = layout.fingerprint.read_text().strip() if layout.fingerprint.exists() else ""
    if stored_fp != fingerprint:
        raise InvalidInputError(
            f"run directory {layout.root} was made for a different dataset "
            f"(fingerprint {stored_fp} != {fingerprint}); resume it with the same data, "
            "or use a new run directory"
        )
    stored = json.loads(layout.settings.read_text())
    current = json.loads(json.dumps(settings, sort_keys=True, default=repr))
    diffs = [
        f"{key} {stored.get(key)!r} != {current.get(key)!r}"
        for key in sorted(set(stored) | set(current))
        if key not in _FREE_SETTINGS and stored.get(key) != current.get(key)
    ]
    if diffs:
        raise InvalidInputError(
            f"run directory {layout.root} was made with different settings ({'; '.join(diffs)}; "
            "run directory first); resume it with the same settings, or use a new run directory"
        )
    if layout.folds.exists() and not _same_folds(layout.folds, folds):
        raise InvalidInputError(
            f"run directory {layout.root} was made with different CV folds for the same data "
            "and seed (was scikit-learn upgraded?); use a new run directory"
        )


def _same_folds(path: Path, folds) -> bool:
    with np.load(path, allow_pickle=False) as stored:
        if len(stored.files) != 2 * len(folds):
            return False
        return all(
            np.array_equal(stored[f"train_{k}"], tr) and np.array_equal(stored[f"test_{k}"], te)
            for k, (tr, te) in enumerate(folds)
        )


def _storage(layout: RunLayout) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(layout.journal)))


def _open_storage(layout: RunLayout, study_attrs: dict):
    removed = repair_tail(layout.journal)
    if removed:
        warnings.warn(
            f"{layout.journal}: dropped a torn or corrupted last record ({removed} bytes); "
            "that evaluation will run again",
            EvoensWarning,
            stacklevel=4,
        )
    stale = Path(str(layout.journal) + ".lock")
    if (
        stale.is_symlink() or stale.exists()
    ):  # Optuna's own lock, left by a killed writer; we hold the run lock
        stale.unlink()
    storage = _storage(layout)
    try:
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except KeyError:
        with quiet_optuna():  # no "A new study created" line
            study_id = storage.create_new_study([StudyDirection.MAXIMIZE], STUDY_NAME)
        for key, value in study_attrs.items():  # shown by optuna-dashboard beside the trials
            storage.set_study_user_attr(study_id, key, json.loads(json.dumps(value, default=repr)))
    return storage, study_id


def _evaluations(storage, study_id, layout: RunLayout, artifacts: bool) -> dict[int, Evaluation]:
    latest = {}
    for trial in storage.get_all_trials(
        study_id, deepcopy=False
    ):  # in the order they were written
        if "candidate_id" in trial.user_attrs:
            latest[int(trial.user_attrs["candidate_id"])] = trial.user_attrs
    out: dict[int, Evaluation] = {}
    for i in sorted(latest):
        evaluation = from_attrs(latest[i])
        if artifacts and evaluation.ok and not _attach_artifacts(evaluation, layout):
            continue  # files lost or damaged: leave it out, so a resumed run evaluates it again
        out[i] = evaluation
    return out


def _attach_artifacts(evaluation: Evaluation, layout: RunLayout) -> bool:
    try:
        evaluation.oof = np.load(layout.oof(evaluation.id), allow_pickle=False)
        evaluation.models = joblib.load(layout.models(evaluation.id))
    except (OSError, ValueError, EOFError, KeyError, ImportError) as exc:
        warnings.warn(
            f"evaluation {evaluation.id}: its saved predictions or models cannot be read "
            f"({type(exc).__name__}: {exc}); it will run again",
            EvoensWarning,
            stacklevel=4,
        )
        return False
    return True
