"""The state of the studio at a glance, for the home page: counts, activity, service health."""
from __future__ import annotations

from storage import overview as repo
from storage.overview import Activity, Counts
from storage.store import Store


def studio_overview(store: Store, activity: int = 12) -> tuple[Counts, list[Activity]]:
    with store.session() as session:
        return (repo.count_everything(session=session),
                repo.recent_activity(session=session, limit=activity))


def service_health(settings) -> dict:
    """Is the prediction service up, and what does it say of each endpoint?

    ``{"up", "url", "endpoints": {name: {"status", "model", "error"}}, "note"}``; short
    timeouts (the home page calls this on a rerun, cached for a few seconds).
    """
    import httpx

    from studio.service.process import ping

    url = settings.base_service_url
    if ping(url, timeout=0.5) is None:
        return {"up": False, "url": url, "endpoints": {}, "note": "not answering"}
    try:
        response = httpx.get(f"{url}/endpoints", timeout=1.0)
    except httpx.HTTPError as exc:
        return {"up": True, "url": url, "endpoints": {}, "note": type(exc).__name__}
    if response.status_code != 200:
        note = "an API key is needed to list endpoints" if response.status_code == 401 \
            else f"listing endpoints answered {response.status_code}"
        return {"up": True, "url": url, "endpoints": {}, "note": note}
    slots = {}
    for slot in (response.json().get("endpoints") or []):
        slots[str(slot.get("name"))] = {"status": slot.get("status"),
                                        "model": slot.get("model"), "error": slot.get("error")}
    return {"up": True, "url": url, "endpoints": slots, "note": ""}
