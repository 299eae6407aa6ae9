"""``serve(settings, host, port)``: run the prediction service under uvicorn.

Workers are separate processes that rebuild their settings from the environment
(``app_from_env``), so the bind address is exported for them: off loopback API
keys are required unless STUDIO_REQUIRE_API_KEY says otherwise.

Two variables for tests and benchmarks only (not user settings):
``STUDIO_SERVICE_POLL_S`` (seconds between endpoint polls, default 1) and
``STUDIO_SERVICE_NO_LOG=1`` (skip the prediction log, to measure what it costs) and
``STUDIO_SERVICE_NO_BACKGROUND=1`` (no background tasks such as scheduled monitoring checks,
so a benchmark measures the request path alone).
"""
from __future__ import annotations

import logging
import os

from studio.errors import InvalidInput
from studio.settings import Settings, get_settings


def app_from_env():
    """Factory used by uvicorn (each worker process builds its own app)."""
    from studio.service.app import create_app

    poll = float(os.environ.get("STUDIO_SERVICE_POLL_S", "1.0"))
    log_predictions = os.environ.get("STUDIO_SERVICE_NO_LOG", "") not in ("1", "true")
    tasks = os.environ.get("STUDIO_SERVICE_NO_BACKGROUND", "") not in ("1", "true")
    return create_app(get_settings(), poll_s=poll, log_predictions=log_predictions,
                      background_tasks=tasks)


def serve(settings: Settings, host: str | None = None, port: int | None = None,
          workers: int = 1, log_level: str = "info") -> None:
    import uvicorn

    host = host or settings.service_host
    port = port or settings.service_port
    if workers < 1 or workers > 32:
        raise InvalidInput("--workers must be between 1 and 32")
    os.environ["STUDIO_SERVICE_HOST"] = host
    os.environ["STUDIO_SERVICE_PORT"] = str(port)
    os.environ["STUDIO_SERVICE_WORKERS"] = str(workers)
    os.environ["STUDIO_HOME"] = str(settings.home)
    if settings.database_url:
        os.environ["STUDIO_DATABASE_URL"] = settings.database_url
    if settings.artifact_root:
        os.environ["STUDIO_ARTIFACT_ROOT"] = str(settings.artifact_root)
    effective = get_settings()
    from studio import open_store

    open_store(effective)  # migrate once before workers start
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    mode = "required" if effective.api_keys_required else "not required"
    where = effective.home
    if effective.database_url:  # a shared store: say which (never the password)
        from sqlalchemy.engine import make_url

        where = make_url(effective.database_url).render_as_string(hide_password=True)
    print(f"Studio prediction service on http://{host}:{port} (docs at /docs); "
          f"API keys {mode}; store {where}", flush=True)
    kwargs = {}
    try:
        import uvloop  # noqa: F401

        kwargs["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        kwargs["http"] = "httptools"
    except ImportError:
        pass
    uvicorn.run("studio.service.server:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=10, **kwargs)
