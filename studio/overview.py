"""The state of the studio at a glance (home page, `python -m studio status`)."""
from __future__ import annotations

from storage import overview as repo
from storage.overview import Activity, Counts
from storage.store import Store


def studio_overview(store: Store, activity: int = 12) -> tuple[Counts, list[Activity]]:
    with store.session() as session:
        return (repo.count_everything(session=session),
                repo.recent_activity(session=session, limit=activity))
