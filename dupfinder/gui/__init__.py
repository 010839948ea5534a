"""The PySide6 window: a thin layer over the engine's public API."""

from . import qtcompat

qtcompat.install()  # before any signal is emitted: see qtcompat for the PySide6 6.12.0 bug
