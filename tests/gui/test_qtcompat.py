"""PySide6 6.12.0's reference leak on None and True cannot abort the app (dupfinder/gui/qtcompat.py)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

from dupfinder.gui import qtcompat


class _Emitter(QObject):
    flag = Signal(bool)


def test_many_calls_and_emits_leave_none_and_true_alive() -> None:
    qtcompat.install()
    emitter = _Emitter()
    emitter.flag.connect(lambda value: None)
    for _ in range(50_000):  # more than None's or True's whole reference count on Python 3.11
        emitter.setObjectName("x")
        emitter.flag.emit(True)
    assert sys.getrefcount(None) > 1000 and sys.getrefcount(True) > 1000


def test_install_is_idempotent_and_only_acts_when_needed() -> None:
    first = qtcompat.install()
    assert qtcompat.install() == first
    if sys.version_info >= (3, 12):
        assert not first
