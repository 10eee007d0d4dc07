"""The run directory: a durable journal of every evaluation, for resume and reports."""

from ._journal import STUDY_NAME, RunJournal, read_evaluations
from ._layout import RunLayout

__all__ = ["RunJournal", "RunLayout", "read_evaluations", "STUDY_NAME"]
