"""The prediction service as a process the UI can see, start and restart.

``service_status(settings)`` pings ``GET /ping``; ``start_service(settings)``
starts ``python -m studio serve`` detached (it outlives the page), writes its pid
to ``STUDIO_HOME/service.pid`` and its output to ``STUDIO_HOME/logs/service.log``,
then waits a few seconds for it to answer. A service that exits at once is not
restarted in a loop: the status carries the end of its log so the page can say
why (a port in use, a broken store…), and the next start is left to the person.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from studio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class ServiceStatus:
    up: bool
    url: str
    pid: int | None = None
    running: bool = False          # our pid is alive (it may still be starting)
    endpoints: int | None = None
    log_tail: str = ""
    message: str = ""


def pid_file(settings: Settings) -> Path:
    return settings.home / "service.pid"


def log_file(settings: Settings) -> Path:
    return settings.home / "logs" / "service.log"


def _pid(settings: Settings) -> int | None:
    try:
        return int(pid_file(settings).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    from studio.jobs import pid_alive

    return pid_alive(pid)


def ping(url: str, timeout: float = 0.7) -> dict | None:
    import httpx

    try:
        response = httpx.get(f"{url}/ping", timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def log_tail(settings: Settings, lines: int = 25) -> str:
    try:
        data = log_file(settings).read_bytes()[-20000:]
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def service_status(settings: Settings) -> ServiceStatus:
    url = settings.base_service_url
    answer = ping(url)
    pid = _pid(settings)
    running = _alive(pid)
    if answer is not None:
        return ServiceStatus(True, url, pid, running, answer.get("endpoints"))
    status = ServiceStatus(False, url, pid, running)
    if running:
        status.message = "the service is starting (or not answering yet)"
    elif pid is not None:
        status.message = "the service stopped"
        status.log_tail = log_tail(settings)
    else:
        status.message = "the service is not running"
    return status


def start_service(settings: Settings, wait_s: float = 15.0) -> ServiceStatus:
    """Start the service detached unless it already answers; wait for it to come up."""
    current = service_status(settings)
    if current.up or current.running:
        return current
    from studio.jobs import worker_env

    log_path = log_file(settings)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"\n--- starting the service at {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "serve", "--host", settings.service_host,
             "--port", str(settings.service_port)],
            env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(ROOT))
    pid_file(settings).write_text(str(proc.pid))
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if proc.poll() is not None:
            status = ServiceStatus(False, settings.base_service_url, proc.pid, False,
                                   log_tail=log_tail(settings))
            status.message = f"the service exited at once (code {proc.returncode}); its log says why"
            return status
        answer = ping(settings.base_service_url, timeout=0.5)
        if answer is not None:
            return ServiceStatus(True, settings.base_service_url, proc.pid, True,
                                 answer.get("endpoints"))
        time.sleep(0.25)
    status = service_status(settings)
    if not status.up:
        status.message = "the service did not answer within the wait; it may still be starting"
        status.log_tail = log_tail(settings)
    return status


def stop_service(settings: Settings, timeout: float = 10.0) -> bool:
    """Stop the service this studio started (by its pid file); True if it stopped."""
    pid = _pid(settings)
    if not _alive(pid):
        pid_file(settings).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file(settings).unlink(missing_ok=True)
    return True


def invoke(settings: Settings, endpoint: str, records: list[dict], api_key: str | None = None,
           explain: bool = False, timeout: float = 10.0) -> dict:
    """Call the live service (the try-it panel); raises StudioError with the service's message."""
    import httpx

    from studio.errors import StudioError

    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    url = f"{settings.base_service_url}/endpoints/{endpoint}/invocations"
    try:
        response = httpx.post(url, json=records, headers=headers, timeout=timeout,
                              params={"explain": "true"} if explain else None)
    except httpx.HTTPError as exc:
        raise StudioError(f"the prediction service at {settings.base_service_url} did not answer "
                          f"({type(exc).__name__}); start it on this page") from None
    try:
        body = response.json()
    except ValueError:
        raise StudioError(f"the service answered {response.status_code} without JSON") from None
    if response.status_code != 200:
        raise StudioError(f"{response.status_code}: {body.get('error', body)}")
    return body


def snippets(settings: Settings, endpoint: str, record: dict, keys_required: bool) -> dict[str, str]:
    """Copy-ready curl and Python calls for one record."""
    import json
    import pprint

    url = f"{settings.base_service_url}/endpoints/{endpoint}/invocations"
    body = json.dumps([record], ensure_ascii=False)
    key_header = " \\\n  -H 'X-API-Key: YOUR_KEY'" if keys_required else ""
    shell_body = body.replace("'", "'\\''")
    curl = (f"curl -s -X POST '{url}' \\\n  -H 'Content-Type: application/json'{key_header} \\\n"
            f"  -d '{shell_body}'")
    key_line = '\nheaders["X-API-Key"] = "YOUR_KEY"' if keys_required else ""
    python = (
        "import httpx\n\n"
        f"rows = {pprint.pformat([record], sort_dicts=False)}\n"
        f"headers = {{}}{key_line}\n"
        f"answer = httpx.post({url!r}, json=rows, headers=headers).json()\n"
        "print(answer[\"predictions\"], answer.get(\"probabilities\"))\n"
    )
    return {"curl": curl, "python": python}


def endpoint_state(settings: Settings, endpoint: str, api_key: str | None = None) -> dict | None:
    """What the running service says about an endpoint (status, error, model), or None."""
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        response = httpx.get(f"{settings.base_service_url}/endpoints/{endpoint}", headers=headers,
                             timeout=2.0)
        return response.json() if response.headers.get("content-type", "").startswith(
            "application/json") else None
    except (httpx.HTTPError, ValueError):
        return None
