"""Shared helpers for pages: the store handle, session-state keys, rendering.

Pages import from here; this module imports streamlit and studio, never storage
internals beyond the Store handle. Data-derived strings are always rendered as
text (st.text, st.dataframe, st.code, markdown with escaping), never as HTML.
"""
from __future__ import annotations

import os

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
