"""Search in the main window: the find bar, matches in every pane, next match.

A mixin of MainWindow (viz/gui/main_window.py): it uses the window's panes, widgets and
signals, and holds no state of its own beyond what its methods create.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)


class SearchMixin:
    """Search in the main window."""

    def _build_search(self) -> None:
        self.search_bar = QWidget()
        row = QHBoxLayout(self.search_bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Find node by name, op or scope (Enter: next, "
                                            "Esc: close)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_info = QLabel("")
        row.addWidget(QLabel("Find:"))
        row.addWidget(self.search_edit, 1)
        row.addWidget(self.search_info)
        self.search_bar.setVisible(False)
        self.search_edit.textChanged.connect(self.run_search)
        self.search_edit.returnPressed.connect(self.next_match)
        self._matches: list[str] = []
        self._match_i = -1

    def show_search(self) -> None:
        self.search_bar.setVisible(True)
        self.search_edit.setFocus()
        self.search_edit.selectAll()

    def hide_search(self) -> None:
        if self.search_bar.isVisible():
            self.search_bar.setVisible(False)
            self.run_search("")

    def run_search(self, text: str) -> list[str]:
        """Highlight every match in every pane and centre the main pane's first."""
        self._matches = self.pane.controller.search(text)
        self.pane.mark("search", set(self._matches))
        for p in self.panes[1:]:  # side by side: the other pane's matches are ringed too
            p.mark("search", set(p.controller.search(text)))
        self._match_i = -1
        self.search_info.setText(f"{len(self._matches)} matches" if text else "")
        if self._matches:
            self.next_match()
        return self._matches

    def next_match(self) -> None:
        if not self._matches:
            return
        self._match_i = (self._match_i + 1) % len(self._matches)
        key = self._matches[self._match_i]
        item = self.pane.canvas.nodes.get(key)
        if item is not None:
            self.pane.canvas.centerOn(item)
            self.pane.controller.select(key)
            self.pane.canvas.select_key(key)
        self.search_info.setText(f"{self._match_i + 1}/{len(self._matches)}")
