"""A guard against PySide6 6.12.0's reference-counting bug, which aborts the app on Python < 3.12.

PySide6 6.12.0 returns `None` from every void method, and `True` from `SignalInstance.emit()`,
without taking a reference (as Python 3.12+, where those objects are immortal, allows). On
Python 3.10 and 3.11 each call drops one reference; after some thousands of calls the count
reaches zero and the interpreter aborts ("none_dealloc: deallocating None", "bool_dealloc").
PySide6 6.11.x is not affected; the real fix is not to install 6.12.0 on Python < 3.12.

`install()` measures whether the running PySide6 leaks and, only then, gives `None`, `True` and
`False` a huge number of extra references, which is what Python 3.12 does for them anyway.
These singletons are never freed, so extra references cost nothing and change nothing else.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

HEADROOM = 1 << 40  # leaked references the app can survive: far more than a lifetime of calls
_installed = False


class _Probe(QObject):
    fired = Signal()


def leaks_references() -> bool:
    """Whether void methods or `emit` drop references to `None` or `True` (the 6.12.0 bug)."""
    if sys.version_info >= (3, 12):
        return False  # None and True are immortal: the missing references can do no harm
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")
        probe.fired.emit()
    return sys.getrefcount(None) < none_before - 8 or sys.getrefcount(True) < true_before - 8


def install() -> bool:
    """Protect `None`, `True` and `False` if this PySide6 leaks; returns whether it had to."""
    global _installed
    if _installed:
        return True
    if hasattr(sys, "gettotalrefcount") or not leaks_references():
        return False  # a debug build lays objects out differently; a sound PySide6 needs nothing
    for singleton in (None, True, False):
        before = sys.getrefcount(singleton)
        count = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt comes first in PyObject
        count.value += HEADROOM
        if sys.getrefcount(singleton) != before + HEADROOM:  # not the layout we expect: undo
            count.value -= HEADROOM
            return False
    _installed = True
    return True
