"""Where each file of a run directory lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunLayout"]


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory.

    ``settings.json``, ``fingerprint``, ``folds.npz``, ``journal.log`` and the
    ``oof/`` and ``models/`` folders are written by :class:`RunJournal` while
    the estimator fits; ``job.json``, ``model.joblib``, ``leaderboard.csv``
    and ``report.html`` by the ``evoens`` command.
    """

    root: Path

    @classmethod
    def at(cls, run_dir) -> "RunLayout":
        return cls(Path(run_dir))

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def fingerprint(self) -> Path:
        return self.root / "fingerprint"

    @property
    def folds(self) -> Path:
        return self.root / "folds.npz"

    @property
    def journal(self) -> Path:
        return self.root / "journal.log"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def oof_dir(self) -> Path:
        return self.root / "oof"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def oof(self, evaluation_id: int) -> Path:
        return self.oof_dir / f"{int(evaluation_id):06d}.npy"

    def models(self, evaluation_id: int) -> Path:
        return self.models_dir / f"{int(evaluation_id):06d}.joblib"

    @property
    def job(self) -> Path:
        return self.root / "job.json"

    @property
    def model(self) -> Path:
        return self.root / "model.joblib"

    @property
    def leaderboard(self) -> Path:
        return self.root / "leaderboard.csv"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def is_run(self) -> bool:
        """True when the directory holds a run (a journal or a command's job file)."""
        return self.settings.exists() or self.job.exists() or self.journal.exists()
