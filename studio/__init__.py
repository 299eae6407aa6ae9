"""Studio: use cases and machine learning. Never imports streamlit."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.store import Store
    from studio.settings import Settings


def open_store(settings: "Settings") -> "Store":
    """The migrated store the settings point at."""
    from storage.store import open_store as _open

    return _open(settings.db_url, settings.artifacts, settings.home)
