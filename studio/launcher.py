"""``make run``: initialise the store, load samples, start the service and the UI.

Both children are stopped together on Ctrl-C (or when either exits).
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from studio import open_store
from studio.jobs import worker_env
from studio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


# Streamlit treats an app with a `pages/` folder as a v1 multipage app until app.py first
# calls st.navigation, so the very first deep link after start (/data) would run the page
# file alone, without the app's layout and menu. Declaring v2 before the server starts
# avoids that. (Runs in the child process; studio itself never imports streamlit.)
_STREAMLIT_MAIN = (
    "import sys; from streamlit.runtime.pages_manager import PagesManager; "
    "PagesManager.uses_pages_directory = False; "
    "from streamlit.web.cli import main; sys.argv[0] = 'streamlit'; sys.exit(main())"
)


def streamlit_command(port: int, *extra: str) -> list[str]:
    """The command line that serves the UI on 127.0.0.1:port."""
    return [sys.executable, "-c", _STREAMLIT_MAIN, "run", str(ROOT / "app.py"),
            "--server.address", "127.0.0.1", "--server.port", str(port), *extra]


def _load_samples(settings: Settings) -> None:
    try:
        from studio.samples import ensure_samples
    except ImportError:
        return
    added = ensure_samples(open_store(settings))
    if added:
        print(f"loaded sample datasets: {', '.join(added)}")


def run_all(settings: Settings, ui_port: int | None = None, service: bool = True) -> int:
    open_store(settings)
    _load_samples(settings)
    env = worker_env(settings)
    children: list[subprocess.Popen] = []
    if service:
        children.append(subprocess.Popen(
            [sys.executable, "-m", "studio", "serve", "--host", settings.service_host,
             "--port", str(settings.service_port)], env=env, cwd=ROOT))
    children.append(subprocess.Popen(streamlit_command(ui_port or settings.ui_port),
                                     env=env, cwd=ROOT))
    print(f"Studio UI:          http://127.0.0.1:{ui_port or settings.ui_port}")
    if service:
        print(f"Prediction service: {settings.base_service_url}  (docs at /docs)")
    print(f"Store:              {settings.home}   (Ctrl-C stops both)")
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.time() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                child.kill()
    return 0
