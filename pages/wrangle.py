"""Wrangle: build a recipe of cleaning steps, preview each one, apply it as a new version."""
import json

import streamlit as st

from pages._ui import Keys, empty_state, md_escape, store
from pages._wrangle_forms import KIND_ORDER, column_kinds, kind_label, step_form
from studio import datasets, recipes
from studio.errors import StudioError

STORE = store()
APPLIED = "wrangle_applied"      # ref of the version the last Apply made
UPLOAD = "wrangle_upload"
SHELF = "wrangle_shelf"          # pending steps of the datasets not shown now
OWNER = "wrangle_recipe_owner"   # the dataset the pending steps belong to
SELECT = "wrangle_select"        # (dataset, version) to show on the next run


@st.cache_data(show_spinner=False, max_entries=4)
def pending_frame(_store, _version, data_sha: str, steps_json: str):
    """The version's data after the pending steps, and one line per step."""
    frame = datasets.load_frame(_store, _version)
    rows = []
    for step in json.loads(steps_json):
        if rows and (rows[-1]["error"] or rows[-1]["skipped"]):
            rows.append({"summary": "", "error": "", "skipped": True, "fitted": None})
            continue
        try:
            preview = recipes.preview_step(frame, step)
        except StudioError as exc:
            rows.append({"summary": "", "error": str(exc), "skipped": False, "fitted": None})
            continue
        frame = preview.result
        rows.append({"summary": preview.summary(), "error": "", "skipped": False,
                     "fitted": preview.step.to_json()})
    return frame, rows


@st.cache_data(show_spinner=False, max_entries=8)
def step_preview(_frame, key: str, step_json: str):
    preview = recipes.preview_step(_frame, json.loads(step_json))
    preview.result = None
    return preview


@st.cache_data(show_spinner=False, max_entries=4)
def script_text(_store, _version, store_home: str, version_id: int, steps_json: str) -> str:
    return recipes.export_script(_store, _version, steps=json.loads(steps_json) or None)


@st.cache_data(show_spinner=False, max_entries=8)
def suggested_steps(_store, _version, version_id: int, profile_sha: str | None):
    """Steps that answer what the version's profile found (the home page offers the same)."""
    from studio.journey import suggest_fixes

    try:
        return suggest_fixes(datasets.get_profile(_store, _version), limit=4)
    except StudioError:
        return []


def move(i: int, delta: int) -> None:
    steps = st.session_state[Keys.RECIPE]
    j = i + delta
    if 0 <= j < len(steps):
        steps[i], steps[j] = steps[j], steps[i]


def remove(i: int) -> None:
    del st.session_state[Keys.RECIPE][i]


def add(step: dict) -> None:
    st.session_state[Keys.RECIPE].append(step)
    for key in [k for k in st.session_state if str(k).startswith(f"wr_{step['kind']}_")]:
        del st.session_state[key]  # a fresh form for the next step


def version_label(v) -> str:
    if v.parent_id is None:
        return f"{v.version} · imported"
    return f"{v.version} · {len(v.recipe or [])} step(s)"


def switch_recipe(name: str) -> None:
    """Pending steps belong to a dataset: keep each dataset's while another is shown."""
    shelf = st.session_state.setdefault(SHELF, {})
    current = st.session_state.get(OWNER)
    if current == name:
        return
    if current is not None:
        shelf[current] = st.session_state.get(Keys.RECIPE, [])
    st.session_state[Keys.RECIPE] = shelf.pop(name, None) or (
        st.session_state.get(Keys.RECIPE, []) if current is None else [])
    st.session_state[OWNER] = name


st.title("Wrangle")
st.caption("Build a recipe of cleaning steps, see what each does, and apply it as a new "
           "version of the dataset. Recipes replay exactly: at prediction time, and as a "
           "Python script you can download.")

all_datasets = datasets.list_datasets(STORE)
if not all_datasets:
    empty_state("No datasets yet. Import a CSV or load a sample on the Datasets page, then come "
                "back to clean it.", page="pages/data.py", label="Go to Datasets")

st.session_state.setdefault(Keys.RECIPE, [])
if SELECT in st.session_state:  # show the version Apply made (before the pickers exist)
    made_name, made_number = st.session_state.pop(SELECT)
    st.session_state["wrangle_dataset"] = made_name
    st.session_state[f"wrangle_version_{made_name}"] = made_number
names = [d.name for d in all_datasets]
current_ref = st.session_state.get(Keys.DATASET) or ""
current_name = current_ref.rpartition(":")[0] or current_ref
left, right = st.columns([3, 1])
name = left.selectbox("Dataset", names, key="wrangle_dataset",
                      index=names.index(current_name) if current_name in names else 0)
switch_recipe(name)
versions = datasets.list_versions(STORE, name)
numbers = [v.version for v in versions]
labels = {v.version: version_label(v) for v in versions}
wanted = current_ref.rpartition(":")[2] if current_name == name else ""
number = right.selectbox("Version", numbers, key=f"wrangle_version_{name}",
                         format_func=labels.get,
                         index=numbers.index(int(wanted)) if wanted.isdigit()
                         and int(wanted) in numbers else 0)
version = next(v for v in versions if v.version == number)
st.session_state[Keys.DATASET] = version.ref
if version.parent_id is not None:
    parent = datasets.get_version_by_id(STORE, version.parent_id)
    st.caption(md_escape(f"Made from {parent.ref} by a recipe of "
                         f"{len(version.recipe or [])} step(s)."))

if st.session_state.get(APPLIED):
    made = st.session_state.pop(APPLIED)
    st.success(f"Saved the new version {md_escape(made)}.", icon=":material/check_circle:")
    st.page_link("pages/data.py", label=f"Open {made} on the Datasets page",
                 icon=":material/arrow_forward:")

steps = st.session_state[Keys.RECIPE]
steps_json = json.dumps(steps, sort_keys=True, default=str)
try:
    frame, step_rows = pending_frame(STORE, version, version.data_sha, steps_json)
except StudioError as exc:
    st.error(md_escape(exc), icon=":material/error:")
    st.stop()

recipe_col, builder_col = st.columns([2, 3], gap="large")

with recipe_col:
    st.subheader("Recipe")
    st.caption(md_escape(f"Starts from {version.ref}: ") + f"{version.rows:,} rows × "
               f"{version.cols} columns.")
    if not steps:
        st.info("No steps yet. Choose a step on the right, check its preview, and add it.",
                icon=":material/playlist_add:")
        for fix in suggested_steps(STORE, version, version.id, version.profile_sha):
            text, button = st.columns([3, 1], vertical_alignment="center")
            text.caption(md_escape(f"Suggested: {fix.title}"))
            button.button("Add", key=f"wr_suggest_{fix.key}", on_click=add, args=(fix.step,),
                          help=fix.why)
    for i, (step, row) in enumerate(zip(steps, step_rows)):
        with st.container(border=True):
            try:
                title = recipes.step_from_json(step).describe()
            except StudioError:
                title = str(step.get("kind", "step"))
            text_col, buttons = st.columns([5, 2])
            text_col.markdown(f"**{i + 1}.** {md_escape(title)}")
            if row["error"]:
                text_col.error(md_escape(row["error"]), icon=":material/error:")
            elif row["skipped"]:
                text_col.caption("not run: an earlier step fails")
            else:
                text_col.caption(md_escape(row["summary"]))
            up, down, drop = buttons.columns(3)
            up.button("", key=f"wr_up_{i}", icon=":material/arrow_upward:", help="Move up",
                      on_click=move, args=(i, -1), disabled=i == 0)
            down.button("", key=f"wr_down_{i}", icon=":material/arrow_downward:",
                        help="Move down", on_click=move, args=(i, 1),
                        disabled=i == len(steps) - 1)
            drop.button("", key=f"wr_remove_{i}", icon=":material/delete:", help="Remove",
                        on_click=remove, args=(i,))
    failing = any(r["error"] for r in step_rows)
    if steps:
        st.caption(f"Result: {len(frame):,} rows × {frame.shape[1]} columns.")
        note = st.text_input("Note for the new version (optional)", key="wrangle_note",
                             max_chars=500)
        if st.button("Apply as a new version", type="primary", key="wrangle_apply",
                     disabled=failing, icon=":material/done_all:"):
            with st.spinner("Applying the recipe…"):
                try:
                    made = recipes.apply_recipe(STORE, version, steps, note=note)
                except StudioError as exc:
                    st.error(md_escape(exc), icon=":material/error:")
                else:
                    st.session_state[Keys.DATASET] = made.ref
                    st.session_state[Keys.RECIPE] = []
                    st.session_state[APPLIED] = made.ref
                    st.session_state[SELECT] = (made.dataset, made.version)
                    st.rerun()
        if failing:
            st.caption("Fix or remove the failing step to apply the recipe.")
        if st.button("Clear all steps", key="wrangle_clear", type="tertiary"):
            st.session_state[Keys.RECIPE] = []
            st.rerun()

    st.divider()
    st.markdown("**Download**")
    if steps and not failing:
        fitted = [row["fitted"] for row in step_rows]
        st.download_button("Recipe (JSON)", recipes.to_json(fitted),
                           file_name=f"{version.dataset}_recipe.json", mime="application/json",
                           icon=":material/data_object:", key="wrangle_json")
    try:
        script = script_text(STORE, version, str(STORE.home), version.id,
                             "[]" if failing else steps_json)
    except StudioError as exc:
        st.caption(md_escape(f"No script: {exc}"))
    else:
        label = "Python script (this version + pending steps)" if steps and not failing \
            else "Python script for this version"
        st.download_button(label, script, file_name=f"{version.dataset}_{version.version}.py",
                           mime="text/x-python", icon=":material/code:", key="wrangle_script")
    with st.expander("Load a recipe from JSON"):
        upload = st.file_uploader("Recipe JSON", type=["json"], key=UPLOAD)
        if upload is not None and st.button("Use these steps", key="wrangle_load"):
            try:
                loaded = recipes.steps_to_json(recipes.steps_from_json(upload.getvalue()))
            except StudioError as exc:
                st.error(md_escape(exc), icon=":material/error:")
            else:
                st.session_state[Keys.RECIPE] = loaded
                st.rerun()

with builder_col:
    st.subheader("Add a step")
    kind = st.selectbox("Step", KIND_ORDER, format_func=kind_label, key="wrangle_kind")
    candidate = step_form(kind, column_kinds(frame))
    if candidate is None:
        st.caption("Fill in the form to see a preview.")
    else:
        try:
            preview = step_preview(frame, f"{version.data_sha}:{steps_json}",
                                   json.dumps(candidate, sort_keys=True, default=str))
        except StudioError as exc:
            st.error(md_escape(exc), icon=":material/error:")
        else:
            st.markdown("**Preview**")
            (r0, c0), (r1, c1) = preview.before_shape, preview.after_shape
            m1, m2, m3 = st.columns(3)
            m1.metric("Rows", f"{r1:,}", delta=f"{r1 - r0:,}" if r1 != r0 else None)
            m2.metric("Columns", c1, delta=c1 - c0 if c1 != c0 else None)
            m3.metric(preview.affected_label.capitalize(), f"{preview.affected:,}")
            for line in preview.notes:
                st.caption(md_escape(line))
            if preview.added:
                st.caption(md_escape("New columns: " + ", ".join(preview.added)))
            if preview.removed:
                st.caption(md_escape("Removed columns: " + ", ".join(preview.removed)))
            before, after = st.columns(2)
            before.caption("Before (examples)")
            before.dataframe(preview.before, key="wrangle_before")
            after.caption("After")
            after.dataframe(preview.after, key="wrangle_after")
            st.button("Add step", type="primary", key="wrangle_add", on_click=add,
                      args=(candidate,),
                      icon=":material/add:")
