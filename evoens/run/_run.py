"""A :class:`Run`: one fit's wiring, from validated data to a fitted ensemble.

The estimators validate their parameters and input and turn them into a
:class:`RunOptions` and a :class:`~evoens._data.Dataset`; the ``evoens``
command goes through the estimators.  The Run then does the rest, in order:

1. open the run directory's journal (if any) and read what it already holds;
2. start the backend (it decides the device plan and ships the data once);
3. search: the loop feeds the backend from :class:`~evoens.search.Evolution`
   until the :class:`~evoens._budget.Budget`, the generations or early
   stopping end it; each result goes to the journal, the progress line and
   the pool filter;
4. build the ensemble from the out-of-fold predictions;
5. optionally refit its members on all rows (:mod:`evoens.run._refit`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from .._budget import DEFAULT_TIME_BUDGET, Budget
from .._optuna import quiet_optuna
from ..ensemble import EnsembleBuilder, EnsembleModel
from ..evaluation import EvalContext, Evaluation, Status
from ..exceptions import AllCandidatesFailedError, FailedEvaluationsWarning
from ..search import Evolution
from ._loop import run_search
from ._refit import refit_members

__all__ = ["Run", "RunOptions", "RunResult", "make_backend"]


@dataclass(frozen=True)
class RunOptions:
    """How a run searches and where it evaluates; the estimators' parameters, validated."""

    time_budget: float | None = DEFAULT_TIME_BUDGET
    generations: int | None = None
    population_size: int = 20
    early_stop: int | None = None
    max_eval_time: float | None = None
    refit: bool = False
    backend: str = "local"
    n_workers: int = 1
    scheduler: str | None = None
    security: object = None
    memory_limit: object = None
    device: str = "auto"
    run_dir: str | None = None
    verbose: int = 0
    seed: int = 0
    #: what a resumed run must share with the run it continues (see RunJournal)
    settings: dict = field(default_factory=dict)


@dataclass
class RunResult:
    """What a run leaves: every record (by id), the ensemble, and how it ended."""

    records: list[Evaluation]
    ensemble: EnsembleModel
    stop_reason: str
    search_time: float
    refit: dict | None = None

    @property
    def ok(self) -> list[Evaluation]:
        return [e for e in self.records if e.ok]


def make_backend(options: RunOptions, client=None):
    """The backend for ``options.backend``; a Dask ``client`` means the Dask backend."""
    from ..backends import LocalBackend, SequentialBackend

    if options.backend == "sequential":
        return SequentialBackend()
    if options.backend == "dask" or client is not None:
        from ..backends import DaskBackend

        return DaskBackend(
            options.n_workers,
            scheduler=options.scheduler,
            client=client,
            security=options.security,
            memory_limit=options.memory_limit,
        )
    return LocalBackend(options.n_workers)  # both take the Budget's GRACE by default


class Run:
    """One fit of the search and the ensemble on a dataset.

    Parameters
    ----------
    options : RunOptions
    data : Dataset
        Encoded features, target, folds and sample weights.
    metric : Metric
    space : SearchSpace
        Already restricted to the task (and to weighted learners if weighted).
    budget : Budget, optional
        Defaults to ``options.time_budget`` starting now.
    """

    def __init__(self, options: RunOptions, data, metric, space, budget: Budget | None = None):
        self.options, self.data, self.metric, self.space = options, data, metric, space
        self.budget = budget or Budget.starting_now(options.time_budget, options.max_eval_time)

    def execute(self, client=None) -> RunResult:
        """Search, ensemble, refit; raises :class:`AllCandidatesFailedError` if nothing
        succeeded."""
        records, reason, backend_ctx = self._search(client)
        search_time = time.time() - self.budget.started
        records = sorted(records, key=lambda e: e.id)
        ok = [e for e in records if e.ok]
        if not ok:
            reasons = sorted(
                {(e.status.value, e.error.splitlines()[0] if e.error else "") for e in records}
            )[:5]
            raise AllCandidatesFailedError(
                f"all {len(records)} evaluated pipelines failed; first reasons: {reasons}"
            )
        errors = [e for e in records if e.status == Status.ERROR]
        if errors:
            warnings.warn(
                f"{len(errors)} of {len(records)} pipelines failed with an error; "
                "see leaderboard_ (status, error)",
                FailedEvaluationsWarning,
                stacklevel=3,
            )
        data = self.data
        ensemble = EnsembleBuilder(self.metric, seed=self.options.seed).build(
            ok,
            data.y,
            data.folds,
            data.task,
            data.n_classes,
            sample_weight=data.sample_weight,
            deadline=self.budget.ensemble_deadline,
        )
        refit = None
        if self.options.refit:
            build = backend_ctx.build_context(n_threads=self.options.n_workers)
            refit = refit_members(
                ensemble, {e.id: e for e in ok}, data, self.space, build, self.budget
            )
        return RunResult(records, ensemble, reason, search_time, refit)

    # -- the search -----------------------------------------------------------------
    def _engine(self) -> Evolution:
        data, options = self.data, self.options
        with quiet_optuna():
            return Evolution(
                self.space,
                data.task,
                self.metric,
                data.y,
                population_size=options.population_size,
                random_state=options.seed,
                max_generations=options.generations,
                seeds=self.space.seeds(data.task),
                sample_weight=data.sample_weight,
                time_bounded=options.time_budget is not None,
                categorical=bool(data.categorical_mask.any()),
                low_cardinality=bool(data.low_cardinality.any()),
                n_folds=len(data.folds),
            )

    def _search(self, client):
        journal, replay = self._open_journal()
        try:
            engine = self._engine()
            callbacks = [journal.append] if journal is not None else []
            progress = self._progress()
            if progress is not None:
                callbacks.append(progress)
            callbacks.append(_drop_models_outside_pool(EnsembleBuilder(self.metric)))
            backend = make_backend(self.options, client)
            # "auto" is resolved by the backend's device plan, on each worker
            ctx = EvalContext(
                self.data, self.metric, self.space, n_threads=1, device=self.options.device
            )
            with quiet_optuna():
                try:
                    backend.start(ctx)
                    records, reason = run_search(
                        engine,
                        backend,
                        self.budget,
                        self.options.early_stop,
                        _chain(callbacks),
                        replay,
                    )
                finally:
                    backend.shutdown()
        finally:
            if journal is not None:
                journal.close()
        return records, reason, backend.ctx

    def _open_journal(self):
        if self.options.run_dir is None:
            return None, None
        from ..journal import RunJournal

        journal = RunJournal.open(
            self.options.run_dir,
            settings=self.options.settings,
            fingerprint=self.data.fingerprint(),
            folds=self.data.folds,
        )
        return journal, journal.load()

    def _progress(self):
        """Per-evaluation progress on stderr (see :mod:`evoens.progress`), or None when silent."""
        from ..progress import make_reporter

        return make_reporter(self.options.verbose, self.budget.started, self.options.time_budget)


def _drop_models_outside_pool(builder):
    """Fold models are kept only for the ensemble's candidate pool: memory stays bounded.

    The out-of-fold predictions of every evaluation stay (the search needs
    them); a journal, if any, has already written every model to disk.
    """

    def drop(evaluation, engine):
        keep = {e.id for e in builder.pool(list(engine.archive.values()))}
        for e in engine.archive.values():
            if e.models is not None and e.id not in keep:
                e.models = None

    return drop


def _chain(callbacks):
    def call_all(evaluation, engine):
        for cb in callbacks:
            cb(evaluation, engine)

    return call_all
