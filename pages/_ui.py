"""Shared helpers for pages: the store handle, session-state keys, rendering.

Pages import from here; this module imports streamlit and studio, never storage
internals beyond the Store handle. Data-derived strings are always rendered as
text (st.text, st.dataframe, st.code, markdown with escaping), never as HTML.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import streamlit as st

from studio import open_store
from studio.settings import Settings, get_settings
from studio.theme import PALETTE, apply_plotly_theme  # noqa: F401 - PALETTE for pages


# One look for every chart (pages and the model report): studio.theme's plotly template.
apply_plotly_theme()


def plot(fig, **kwargs) -> None:
    """Render a plotly figure with the studio's look, full width."""
    st.plotly_chart(fig, width="stretch", theme=None, **kwargs)


class Keys:
    """Session-state keys, defined in one place."""

    DATASET = "dataset_ref"          # "NAME:V" chosen on the Data pages
    RECIPE = "recipe_steps"          # list of step dicts being built on Wrangle
    JOB = "job_id"                   # job followed on Train
    MODEL = "model_ref"              # "NAME:V" chosen on Models
    ENDPOINT = "endpoint_name"       # endpoint chosen on Endpoints / Monitor
    MONITOR_JOB = "monitor_job_id"   # check / simulation followed on Monitor


@st.cache_resource(show_spinner=False)
def _context(home: str | None, db_url: str | None, artifact_root: str | None):
    settings = get_settings()
    return settings, open_store(settings)


def context():
    """(settings, store) for the environment this page runs in.

    Cached per STUDIO_HOME / database URL so tests with their own store get
    their own handle.
    """
    return _context(
        os.environ.get("STUDIO_HOME"), os.environ.get("STUDIO_DATABASE_URL"),
        os.environ.get("STUDIO_ARTIFACT_ROOT"),
    )


def settings() -> Settings:
    return context()[0]


def store():
    return context()[1]


def md_escape(text: object) -> str:
    """Text from data made safe for st.markdown (no HTML, no markdown effects)."""
    s = str(text)
    for ch in "\\`*_{}[]()#+-.!|<>~$":
        s = s.replace(ch, "\\" + ch)
    return s


def empty_state(message: str, *, page: str | None = None, label: str | None = None) -> None:
    """An info box that says what to do next, with an optional link; stops the page."""
    st.info(message, icon=":material/info:")
    if page and label:
        st.page_link(page, label=label, icon=":material/arrow_forward:")
    st.stop()


def show_error(exc: Exception) -> None:
    st.error(str(exc), icon=":material/error:")


def ago(at: datetime | None) -> str:
    """How long ago, for a person: "12 s ago", "5 min ago", "3 h ago", then the date."""
    if at is None:
        return ""
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    seconds = (datetime.now(timezone.utc) - at).total_seconds()
    if seconds < 90:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{at:%Y-%m-%d %H:%M} UTC"


@st.cache_resource(show_spinner=False)
def _import_pool() -> ThreadPoolExecutor:
    """Imports run here, off the script thread, so a rerun (a click, a reload) cannot cut
    one short; the page watches the task and shows its progress."""
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="studio-import")


def start_import(store, upload, name: str, options: dict | None = None) -> dict:
    """Import a browser upload in the background. Returns the task a page watches:
    {"file", "future", "progress": (fraction, message)}. A file over the import limit
    raises InvalidInput at once, before its bytes are copied."""
    from studio import datasets as ds
    from studio.ingest import ImportOptions, check_size

    check_size(upload.size, ImportOptions.from_any(options), what=upload.name)
    task = {"file": upload.name, "progress": (0.0, "starting")}

    def progress(fraction: float, message: str) -> None:
        task["progress"] = (min(max(fraction, 0.0), 1.0), message)

    task["future"] = _import_pool().submit(
        ds.import_bytes, store, upload.getvalue(), filename=upload.name, name=name or None,
        options=options, progress=progress, profile=True)
    return task

