"""The PySide6 window: a thin layer over the engine's public API."""
