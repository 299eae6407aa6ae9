"""Datasets: import a file (or a sample), look at its profile, follow its versions.

Everything that comes from a file (names, values, messages quoting them) is
shown as text: st.dataframe, st.text, or markdown through md_escape; chart
labels are HTML-escaped for plotly.
"""
from __future__ import annotations

import html
from concurrent.futures import TimeoutError as FuturesTimeout

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._ui import Keys, context, md_escape, plot, show_error, start_import
from studio import datasets as ds
from studio.errors import StudioError
from studio.samples import list_samples, load_sample

PAGE_SIZE = 50
PREVIEW_COLUMNS = 60
SEVERITY_ICON = {"error": ":material/error:", "warning": ":material/warning:",
                 "info": ":material/info:"}

settings, store = context()


def _safe(text: object) -> str:
    """A label for plotly, which reads a few HTML tags in text: escape them all."""
    return html.escape(str(text))


@st.cache_data(show_spinner=False, max_entries=64)
def _profile(version_id: int, profile_sha: str | None, target: str | None, home: str) -> dict:
    return ds.get_profile(store, ds.get_version_by_id(store, version_id), target)


@st.cache_data(show_spinner=False, max_entries=16)
def _preview(version_id: int, data_sha: str, home: str) -> pd.DataFrame:
    return ds.load_preview(store, ds.get_version_by_id(store, version_id), rows=100)


# --- import --------------------------------------------------------------------

def _import_options() -> dict:
    with st.expander("Import options (detected automatically when left empty)"):
        c1, c2, c3 = st.columns(3)
        encoding = c1.selectbox("Encoding", ["detect", "utf-8", "cp1252", "latin-1", "utf-16"],
                                key="imp_encoding")
        delimiter = c2.selectbox("Delimiter", ["detect", ",", ";", "tab", "|"],
                                 key="imp_delimiter")
        decimal = c3.selectbox("Decimal mark", ["detect", ".", ","], key="imp_decimal")
        c1, c2, c3 = st.columns(3)
        sheet = c1.text_input("Excel sheet (name or 0-based number)", key="imp_sheet")
        lenient = c2.checkbox("Lenient: skip malformed lines and report them",
                              key="imp_lenient")
        keep_index = c3.checkbox("Keep a saved row-index column", key="imp_keep_index")
        markers = st.text_input(
            "Also read as missing (comma-separated)", key="imp_markers",
            help="Added to the usual markers: blank, NA, N/A, ?, -, #N/A, None, NULL …")
    opts: dict = {"lenient": lenient, "drop_index_column": not keep_index}
    if encoding != "detect":
        opts["encoding"] = encoding
    if delimiter != "detect":
        opts["delimiter"] = delimiter
    if decimal != "detect":
        opts["decimal"] = decimal
    if sheet.strip():
        opts["sheet"] = sheet.strip()
    if markers.strip():
        from studio.ingest import DEFAULT_MISSING_MARKERS

        opts["missing_markers"] = tuple(DEFAULT_MISSING_MARKERS) + tuple(
            m.strip() for m in markers.split(",") if m.strip())
    return opts


def _start_import(upload, name: str, opts: dict) -> None:
    try:
        st.session_state["import_task"] = start_import(store, upload, name, opts)
    except StudioError as exc:
        show_error(exc)


def _finish_import(task: dict) -> None:
    st.session_state.pop("import_task", None)
    exc = task["future"].exception()
    if exc is not None:
        st.status(f"Import of {md_escape(task['file'])} refused", state="error")
        if isinstance(exc, StudioError):
            show_error(exc)
        else:
            st.error(f"The import failed unexpectedly ({type(exc).__name__}: {exc}).",
                     icon=":material/error:")
        return
    result = task["future"].result()
    st.session_state[Keys.DATASET] = result.version.ref
    st.session_state["import_warnings"] = result.warnings
    st.session_state["data_pick"] = result.version.dataset
    st.rerun()  # show the new version (the list above was read before it existed)


def render_import_task() -> None:
    task = st.session_state.get("import_task")
    if not task:
        return
    try:
        task["future"].result(timeout=3)  # most files are done by now
    except FuturesTimeout:
        pass
    except Exception:  # noqa: BLE001 - reported by _finish_import
        pass
    if task["future"].done():
        _finish_import(task)
        return

    @st.fragment(run_every=1.0)
    def watch() -> None:
        fraction, message = task["progress"]
        st.progress(fraction, text=message)
        if task["future"].done():
            st.rerun()

    with st.status(f"Importing {md_escape(task['file'])}", expanded=True):
        watch()


def render_import(open_: bool) -> None:
    with st.expander("Import a file", expanded=open_, icon=":material/upload:"):
        upload = st.file_uploader(
            "CSV or other delimited text, .gz/.zip with one CSV, Excel .xlsx or Parquet",
            type=None, key="upload",
            help=f"Up to {settings.max_upload_mb} MB (STUDIO_MAX_UPLOAD_MB). The format, "
                 "encoding and delimiter are recognised from the content.")
        from studio.names import suggest_name

        default = suggest_name(upload.name) if upload is not None else ""
        name = st.text_input("Dataset name (an existing name adds a new version)",
                             value=default, key=f"imp_name_{default}")
        opts = _import_options()
        busy = "import_task" in st.session_state
        if st.button("Import", type="primary", disabled=upload is None or busy,
                     key="do_import"):
            _start_import(upload, name.strip(), opts)
        render_import_task()


def render_samples(key: str) -> None:
    samples = list_samples()
    cols = st.columns(len(samples))
    for col, sample in zip(cols, samples):
        with col.container(border=True):
            st.markdown(f"**{sample.title}**")
            st.caption(sample.description)
            if st.button("Load", key=f"{key}_{sample.name}", icon=":material/download:"):
                with st.spinner(f"Loading {sample.title}…"):
                    try:
                        result = load_sample(store, sample.name)
                    except StudioError as exc:
                        show_error(exc)
                        return
                st.session_state[Keys.DATASET] = result.version.ref
                st.session_state["data_pick"] = result.version.dataset
                st.session_state["import_warnings"] = result.warnings
                st.rerun()


# --- profile -----------------------------------------------------------------

def _chart(col: dict) -> go.Figure | None:
    chart = col.get("chart")
    if not chart:
        return None
    if chart["kind"] == "histogram":
        edges = chart["edges"]
        if chart.get("time"):
            x = [pd.Timestamp(a) + (pd.Timestamp(b) - pd.Timestamp(a)) / 2
                 for a, b in zip(edges[:-1], edges[1:])]
            widths = None
        else:
            x = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
            widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        fig = go.Figure(go.Bar(x=x, y=chart["counts"], width=widths, marker_line_width=0))
        fig.update_layout(bargap=0.02)
    else:
        labels = [_safe(v) for v in chart["labels"]]
        counts = list(chart["counts"])
        if chart.get("other"):
            labels.append("(all others)")
            counts.append(chart["other"])
        fig = go.Figure(go.Bar(x=counts, y=labels, orientation="h"))
        fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=None,
                      yaxis_title=None, showlegend=False)
    return fig


def _summary(col: dict) -> str:
    stats = col.get("stats") or {}
    if "mean" in stats:
        return f"mean {stats['mean']:g} · median {stats.get('median', '–')} · " \
               f"[{stats.get('min')}, {stats.get('max')}]"
    if col["semantic"] == "datetime":
        return f"{stats.get('min', '')} → {stats.get('max', '')}"
    if col.get("top"):
        return "top: " + ", ".join(f"{v} ({c:,})" for v, c in col["top"][:3])
    return ""


def render_warnings(warnings: list[dict], limit: int = 30) -> None:
    if not warnings:
        st.success("No problems found.", icon=":material/check_circle:")
        return
    for w in warnings[:limit]:
        icon = SEVERITY_ICON.get(w.get("severity", "warning"))
        message = str(w["message"])
        text = md_escape(message[:1].upper() + message[1:])
        if w.get("severity") == "error":
            st.error(text, icon=icon)
        elif w.get("severity") == "info":
            st.info(text, icon=icon)
        else:
            st.warning(text, icon=icon)
    if len(warnings) > limit:
        st.caption(f"… and {len(warnings) - limit} more")


def render_overview(version, profile: dict) -> None:
    c = st.columns(4)
    c[0].metric("Rows", f"{profile['rows']:,}")
    c[1].metric("Columns", f"{profile['cols']:,}")
    c[2].metric("Duplicate rows", f"{profile.get('duplicate_rows', 0):,}")
    cells = profile["rows"] * profile["cols"]
    c[3].metric("Missing cells", f"{profile.get('missing_cells', 0):,}",
                help=f"{profile.get('missing_cells', 0) / cells:.1%} of all cells" if cells
                else None)
    if profile.get("blocked"):
        st.error(md_escape(profile["blocked"]), icon=":material/block:")
    if profile.get("sample"):
        st.caption(md_escape(profile["sample"]["note"]))
    st.subheader("Warnings")
    render_warnings(profile.get("warnings") or [])
    report = version.import_report or {}
    if report:
        st.subheader("How the file was read")
        facts = {"file": version.source_name or "", "format": report.get("format", ""),
                 "encoding": report.get("encoding_note") or report.get("encoding", ""),
                 "delimiter": report.get("delimiter_name", ""),
                 "decimal mark": report.get("decimal", ""),
                 "compression": " → ".join(report.get("compression", [])) or "none",
                 "sheet": report.get("sheet", "")}
        st.dataframe(pd.DataFrame({"": list(facts), "value": [str(v) for v in facts.values()]}),
                     hide_index=True, width="stretch")
        mapping = report.get("header_mapping")
        if mapping:
            st.markdown("**Column names cleaned**")
            st.dataframe(pd.DataFrame(mapping, columns=["in the file", "now"]),
                         hide_index=True)
        conversions = report.get("conversions") or {}
        if conversions:
            st.markdown("**Values converted** (before → after)")
            rows = [{"column": col, "to": c.get("to"), "rule": c.get("rule"),
                     "examples": "; ".join(f"{a!s} → {b!s}" for a, b in c.get("examples", []))}
                    for col, c in conversions.items()]
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        skipped = report.get("skipped") or {}
        markers = report.get("missing_markers") or {}
        if skipped or markers:
            st.markdown("**Skipped and read as missing**")
            rows = [{"what": k.replace("_", " "), "count": v if isinstance(v, int) else len(v)}
                    for k, v in skipped.items()]
            rows += [{"what": f"'{m}' in {col}" if m else f"blank in {col}", "count": n}
                     for col, per in markers.items() for m, n in per.items()]
            st.dataframe(pd.DataFrame(rows), hide_index=True)


def render_columns(profile: dict) -> None:
    columns = profile["columns"]
    pages = max(1, -(-len(columns) // PAGE_SIZE))
    left, right = st.columns([3, 1])
    query = left.text_input("Find a column", key="col_filter", placeholder="part of a name")
    shown = [c for c in columns if query.lower() in str(c["name"]).lower()] if query else columns
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = right.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1,
                              key=f"col_page_{pages}") if pages > 1 else 1
    chunk = shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    table = pd.DataFrame({
        "column": [str(c["name"]) for c in chunk],
        "type": [c["semantic"] for c in chunk],
        "missing %": [c.get("missing_pct", 0.0) for c in chunk],
        "distinct": [c["distinct"] for c in chunk],
        "summary": [_summary(c) for c in chunk],
        "why this type": [c.get("reason", "") for c in chunk],
    })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"missing %": st.column_config.NumberColumn(format="%.1f")})
    if len(shown) > PAGE_SIZE:
        st.caption(f"columns {(page - 1) * PAGE_SIZE + 1}–{(page - 1) * PAGE_SIZE + len(chunk)}"
                   f" of {len(shown):,}")
    if not chunk:
        return
    names = [str(c["name"]) for c in chunk]
    pick = st.selectbox("Look at a column", names, key=f"col_pick_{page}_{query}")
    col = chunk[names.index(pick)]
    left, right = st.columns([2, 1])
    with left:
        fig = _chart(col) if col["semantic"] != "identifier" else None
        if fig is not None:
            plot(fig, key=f"chart_{pick}")
        elif col["semantic"] == "identifier":
            st.caption("No chart for an ID column: nearly every value occurs once.")
        else:
            st.caption("No chart: the column has no values to count.")
    with right:
        stats = {"type": col["semantic"], "pandas dtype": col["dtype"],
                 "missing": f"{col['missing']:,} ({col.get('missing_pct', 0):.1f}%)",
                 "distinct": f"{col['distinct']:,}"}
        stats.update({k: v for k, v in (col.get("stats") or {}).items()})
        st.dataframe(pd.DataFrame({"": list(stats), "value": [str(v) for v in stats.values()]}),
                     hide_index=True, width="stretch")
        st.text(f"Why {col['semantic']}: {col.get('reason', '')}")
    if col.get("warnings"):
        render_warnings(col["warnings"])


def render_correlation(profile: dict) -> None:
    corr = profile.get("correlation")
    if not corr:
        st.info("Correlations need at least two numeric columns.", icon=":material/info:")
        return
    labels = [_safe(c) for c in corr["columns"]]
    fig = go.Figure(go.Heatmap(z=corr["matrix"], x=labels, y=labels, zmin=-1, zmax=1,
                               colorscale="RdBu", reversescale=True,
                               texttemplate="%{z:.2f}" if len(labels) <= 12 else None,
                               hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>"))
    size = min(900, 200 + 22 * len(labels))
    fig.update_layout(height=size, xaxis=dict(type="category"), yaxis=dict(type="category",
                                                                           autorange="reversed"))
    plot(fig, key="corr")
    if corr.get("sampled"):
        st.caption("Pearson correlation on a random sample of rows.")


def render_target(version, profile: dict) -> None:
    names = [str(c["name"]) for c in profile["columns"]]
    if profile.get("blocked"):
        st.error(md_escape(profile["blocked"]), icon=":material/block:")
        return
    st.caption("Pick the column you want to predict: Studio checks it before training.")
    target = st.selectbox("Target column", [None] + names, key=f"target_{version.ref}",
                          format_func=lambda v: "choose…" if v is None else v)
    if target is None:
        return
    with st.spinner("Checking the target (a quick model per feature)…"):
        try:
            checks = _profile(version.id, version.profile_sha, target, str(settings.home))[
                "target"]
        except StudioError as exc:
            show_error(exc)
            return
    c = st.columns(3)
    c[0].metric("Task", checks.get("task") or "–", help=f"detected: {checks.get('detected_task')}")
    c[1].metric("Rows without a target", f"{checks.get('missing', 0):,}")
    c[2].metric("Leaking features", len(checks.get("leaks") or []))
    for msg in checks.get("blocking") or []:
        st.error(md_escape(msg), icon=":material/block:")
    render_warnings(checks.get("warnings") or [])
    if checks.get("leak_note"):
        st.caption(md_escape(checks["leak_note"]))
    classes = checks.get("classes")
    if classes:
        fig = go.Figure(go.Bar(x=[c["count"] for c in classes],
                               y=[_safe(c["value"]) for c in classes], orientation="h"))
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_layout(height=min(600, 120 + 24 * len(classes)), title="Rows per class")
        plot(fig, key=f"classes_{target}")


def render_history(version) -> None:
    chain = ds.lineage(store, version)
    st.markdown("**Lineage** (root first)")
    rows = []
    for v in chain:
        recipe = v.recipe or []
        steps = ", ".join(str(s.get("op") or s.get("kind") or s.get("type") or "step")
                          for s in recipe[:6] if isinstance(s, dict))
        rows.append({"version": v.ref, "rows": v.rows, "cols": v.cols,
                     "made from": next((p.ref for p in chain if p.id == v.parent_id), ""),
                     "recipe": f"{len(recipe)} step(s): {steps}" if recipe else "",
                     "source file": v.source_name or "", "note": v.note,
                     "created": v.created_at.strftime("%Y-%m-%d %H:%M")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    versions = ds.list_versions(store, version.dataset)
    if len(versions) > 1:
        st.markdown("**All versions of this dataset**")
        st.dataframe(pd.DataFrame([{"version": v.ref, "rows": v.rows, "cols": v.cols,
                                    "parent id": v.parent_id, "note": v.note,
                                    "created": v.created_at.strftime("%Y-%m-%d %H:%M")}
                                   for v in versions]), hide_index=True, width="stretch")


# --- page ---------------------------------------------------------------------

st.title("Datasets")
datasets = ds.list_datasets(store)
render_import(open_=not datasets)
if st.session_state.get("import_warnings"):
    with st.expander(f"Import notes ({len(st.session_state['import_warnings'])})",
                     expanded=True, icon=":material/fact_check:"):
        for warning in st.session_state["import_warnings"]:
            st.text("• " + warning)

if not datasets:
    st.info("No datasets yet. Upload a file above, or load one of these samples with one "
            "click.", icon=":material/info:")
    render_samples("empty")
    st.stop()

with st.expander("Sample datasets", icon=":material/dataset:"):
    render_samples("more")

names = [d.name for d in datasets]
current = st.session_state.get(Keys.DATASET, "")
default_name = current.rpartition(":")[0] if ":" in current else current
if st.session_state.get("data_pick") not in names:
    st.session_state["data_pick"] = default_name if default_name in names else names[0]
left, right = st.columns([3, 1])
name = left.selectbox("Dataset", names, key="data_pick")
versions = ds.list_versions(store, name)
labels = [f"{v.version} · {v.rows:,} rows · {v.created_at:%Y-%m-%d %H:%M}" for v in versions]
chosen_v = int(current.rpartition(":")[2]) if current.startswith(f"{name}:") and \
    current.rpartition(":")[2].isdigit() else versions[0].version
index = next((i for i, v in enumerate(versions) if v.version == chosen_v), 0)
pick = right.selectbox("Version", range(len(versions)), index=index,
                       format_func=lambda i: labels[i], key=f"version_pick_{name}")
version = versions[pick]
st.session_state[Keys.DATASET] = version.ref
next_steps = st.columns(3)  # the next step in reach, above the long profile
next_steps[0].page_link("pages/train.py", label="Train a model on it",
                        icon=":material/model_training:")
next_steps[1].page_link("pages/wrangle.py", label="Clean or reshape it", icon=":material/tune:")

try:
    with st.spinner("Profiling (once per version)…"):
        profile = _profile(version.id, version.profile_sha, None, str(settings.home))
except StudioError as exc:
    show_error(exc)
    st.stop()

tabs = st.tabs(["Overview", "Columns", "Preview", "Correlations", "Target", "History"])
with tabs[0]:
    render_overview(version, profile)
with tabs[1]:
    render_columns(profile)
with tabs[2]:
    try:
        frame = _preview(version.id, version.data_sha, str(settings.home))
        note = f"The first {len(frame):,} of {version.rows:,} rows"
        if frame.shape[1] > PREVIEW_COLUMNS:
            start = st.number_input(
                f"First column to show ({frame.shape[1]:,} columns, {PREVIEW_COLUMNS} at a "
                "time)", min_value=1, max_value=frame.shape[1], value=1,
                step=PREVIEW_COLUMNS, key=f"preview_from_{version.ref}")
            frame = frame.iloc[:, start - 1:start - 1 + PREVIEW_COLUMNS]
            note += f", columns {start:,}–{start - 1 + frame.shape[1]:,}"
        st.caption(note + ".")
        st.dataframe(frame, width="stretch")
    except StudioError as exc:
        show_error(exc)
with tabs[3]:
    render_correlation(profile)
with tabs[4]:
    render_target(version, profile)
with tabs[5]:
    render_history(version)
