"""Optuna's logging, quiet while evoens uses it."""

from __future__ import annotations

import contextlib

import optuna

__all__ = ["quiet_optuna"]


@contextlib.contextmanager
def quiet_optuna():
    """Optuna logs every told trial (and each new study) at INFO: silence that, then restore."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)
