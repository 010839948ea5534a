"""dupfinder: find duplicate and near-duplicate photos, and clean up safely.

The engine (this package, minus `gui`) has no Qt imports; `dupfinder.gui` is a thin layer over it.
"""

__version__ = "0.1.0"
