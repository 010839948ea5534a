"""Settings, About, the "not duplicates" list and the unreadable-files list."""

from __future__ import annotations

import html
import platform
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dupfinder import __version__
from dupfinder.embedder import DEVICES, Embedder
from dupfinder.ignore import IgnoreList
from dupfinder.report import FileError, Report, to_csv, to_json

from .icons import app_icon
from .prompts import Prompts
from .settings import AppSettings


class SettingsDialog(QDialog):
    """Threshold, device, model file and workers; written to the settings on OK."""

    def __init__(
        self,
        settings: AppSettings,
        prompts: Prompts,
        model_default: float | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings, self.prompts = settings, prompts
        self.use_default = QCheckBox("Use the model's calibrated default", self)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(-1.0, 1.0)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.005)
        chosen = settings.threshold
        self.use_default.setChecked(chosen is None)
        self.threshold.setValue(chosen if chosen is not None else (model_default or 0.9))
        self.threshold.setEnabled(chosen is not None)
        self.use_default.toggled.connect(lambda on: self.threshold.setEnabled(not on))
        self.device = QComboBox(self)
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(settings.device if settings.device in DEVICES else "auto")
        self.model = QLineEdit(settings.model_path, self)
        self.model.setPlaceholderText("the bundled model (or $DUPFINDER_MODEL)")
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.workers = QSpinBox(self)
        self.workers.setRange(1, 64)
        self.workers.setValue(settings.workers)
        self._lay_out(model_row)

    def _lay_out(self, model_row: QHBoxLayout) -> None:
        form = QFormLayout()
        form.addRow("Similarity threshold", self.threshold)
        form.addRow("", self.use_default)
        form.addRow("Device", self.device)
        form.addRow("Model file (.onnx)", model_row)
        form.addRow("Decoding threads", self.workers)
        note = QLabel("Changing the model or the device reloads the model; the next scan uses it.", self)
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        chosen = self.prompts.choose_open_file("Choose a model", "ONNX models (*.onnx)", self.model.text())
        if chosen:
            self.model.setText(str(chosen))

    def apply(self) -> bool:
        """Write the choices; returns True when the model must be reloaded."""
        reload = (
            self.model.text().strip() != self.settings.model_path
            or self.device.currentText() != self.settings.device
        )
        self.settings.threshold = None if self.use_default.isChecked() else self.threshold.value()
        self.settings.device = self.device.currentText()
        self.settings.model_path = self.model.text().strip()
        self.settings.workers = self.workers.value()
        self.settings.sync()
        return reload


def about_text(embedder: Embedder | None, model_error: str) -> str:
    if embedder is not None:
        card = html.escape(embedder.card.summary()).replace("\n", "<br>")
        model = (
            f"{card}<br>File: {html.escape(str(embedder.model_path))}<br>"
            f"Runs on: {embedder.device.upper()} ({', '.join(embedder.providers)})"
        )
    else:
        model = f"<i>No model loaded.</i> {html.escape(model_error)}"
    return (
        f"<h2>dupfinder {__version__}</h2>"
        "<p>Finds duplicate and near-duplicate photos with a learned embedding, "
        "and cleans up safely: every action can be undone.</p>"
        f"<h3>Model</h3><p>{model}</p>"
        f"<p style='color:gray'>Python {platform.python_version()} · PySide6 {pyside_version}</p>"
    )


class ListDialog(QDialog):
    """A two-column list with an optional Remove / Clear pair (the ignore list uses them)."""

    def __init__(
        self,
        title: str,
        headers: list[str],
        rows: list[tuple[str, str]],
        text: str,
        parent: QWidget | None = None,
        editable: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setWindowIcon(app_icon())
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(headers)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        for first, second in rows:
            item = QTreeWidgetItem(self.tree, [first, second])
            item.setToolTip(0, first)
            item.setToolTip(1, second)
        self.tree.setColumnWidth(0, 380)
        label = QLabel(text, self)
        label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        if editable:
            self.remove_button = buttons.addButton("Remove selected", QDialogButtonBox.ButtonRole.ActionRole)
            self.clear_button = buttons.addButton("Clear all", QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.resize(900, 520)

    def selected_rows(self) -> list[tuple[str, str]]:
        return [(item.text(0), item.text(1)) for item in self.tree.selectedItems()]


class IgnoredDialog(ListDialog):
    """Review the "not duplicates" decisions; removing one lets those pictures group again."""

    def __init__(self, ignore: IgnoreList, parent: QWidget | None = None) -> None:
        super().__init__(
            "Not duplicates",
            ["Picture", "Is not a duplicate of"],
            list(ignore),
            f"{len(ignore):,} pair(s) you marked as not duplicates. They are never "
            "grouped together again until you remove them here.",
            parent,
            editable=True,
        )
        self.ignore = ignore
        self.changed = False
        self.remove_button.clicked.connect(self._remove)
        self.clear_button.clicked.connect(self._clear)

    def _remove(self) -> None:
        self.ignore.remove(self.selected_rows())
        for item in self.tree.selectedItems():
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self.changed = True

    def _clear(self) -> None:
        self.ignore.clear()
        self.tree.clear()
        self.changed = True


def errors_dialog(errors: list[FileError], parent: QWidget | None = None) -> ListDialog:
    return ListDialog(
        "Unreadable files",
        ["File", "Reason"],
        [(e.path, e.error) for e in errors],
        f"{len(errors):,} file(s) could not be read; the scan went on without them.",
        parent,
    )


def rich_list(lines: list[str], limit: int = 12) -> str:
    shown = "".join(f"<li>{html.escape(line)}</li>" for line in lines[:limit])
    more = f"<li>… and {len(lines) - limit:,} more</li>" if len(lines) > limit else ""
    return f"<ul>{shown}{more}</ul>"


def export_report(prompts: Prompts, report: Report) -> Path | None:
    """Ask where, then write the groups as JSON (the CLI's schema) or CSV; returns the file."""
    path, chosen_filter = prompts.choose_save_file(
        "Export groups", "JSON (*.json);;CSV (*.csv)", "duplicates.json"
    )
    if path is None:
        return None
    as_csv = path.suffix.lower() == ".csv" or (not path.suffix and "csv" in chosen_filter.lower())
    if not path.suffix:
        path = path.with_suffix(".csv" if as_csv else ".json")
    try:
        path.write_text(to_csv(report) if as_csv else to_json(report), encoding="utf-8")
    except OSError as error:
        prompts.inform("Export failed", f"Cannot write {path}: {error.strerror or error}", warning=True)
        return None
    return path
