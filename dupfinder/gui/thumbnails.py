"""Thumbnails loaded off the UI thread and cached.

`QImageReader` with a scaled size lets JPEG decode at a fraction of full resolution; EXIF
orientation is honoured. Workers produce `QImage`s (safe off the UI thread); the UI thread turns
them into pixmaps and keeps the most recent ones in a small LRU cache.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap


def read_scaled(path: str, box: int) -> QImage:
    """The picture at `path` fitted in a `box`×`box` square (0: full size); null on failure."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if box > 0 and size.isValid() and (size.width() > box or size.height() > box):
        reader.setScaledSize(size.scaled(QSize(box, box), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if not image.isNull() and box > 0 and (image.width() > box or image.height() > box):
        image = image.scaled(
            box, box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return image


class _Signals(QObject):
    done = Signal(str, int, QImage)


class _Load(QRunnable):
    def __init__(self, path: str, box: int, signals: _Signals) -> None:
        super().__init__()
        self.path, self.box, self.signals = path, box, signals

    def run(self) -> None:
        self.signals.done.emit(self.path, self.box, read_scaled(self.path, self.box))


class ThumbnailLoader(QObject):
    """Asynchronous, cached thumbnails: `get` returns one now or asks for it and emits `loaded`."""

    loaded = Signal(str, int)  # path, box

    def __init__(self, parent: QObject | None = None, capacity: int = 400, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._failed: set[tuple[str, int]] = set()
        self._signals = _Signals(self)
        self._signals.done.connect(self._done)

    def get(self, path: str, box: int) -> QPixmap | None:
        """The cached thumbnail, or None (and a load is queued unless one runs or it failed)."""
        key = (path, box)
        pixmap = self._cache.get(key)
        if pixmap is not None:
            self._cache.move_to_end(key)
            return pixmap
        if key not in self._pending and key not in self._failed:
            self._pending.add(key)
            self.pool.start(_Load(path, box, self._signals))
        return None

    def has(self, path: str) -> bool:
        """Whether a thumbnail of `path` (any size) is cached."""
        return any(key[0] == path for key in self._cache)

    def failed(self, path: str, box: int) -> bool:
        return (path, box) in self._failed

    def forget(self, path: str) -> None:
        """Drop what is known about `path` (it moved, or came back)."""
        for key in [k for k in self._cache if k[0] == path]:
            del self._cache[key]
        self._failed = {k for k in self._failed if k[0] != path}

    def _done(self, path: str, box: int, image: QImage) -> None:
        key = (path, box)
        self._pending.discard(key)
        if image.isNull():
            self._failed.add(key)
        else:
            self._cache[key] = QPixmap.fromImage(image)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        self.loaded.emit(path, box)

    def wait(self, msecs: int = 5000) -> bool:
        self.pool.clear()
        return self.pool.waitForDone(msecs)
