"""Batch predict: a CSV or a dataset version through a model version, as a job with progress."""
import streamlit as st

from pages._ui import Keys, empty_state, settings, show_error, store
from studio.batch import get_batch_job, read_preview, result_bytes, stage_upload, start_batch_job
from studio.datasets import list_datasets, list_versions
from studio.errors import StudioError
from studio.model_cards import get_version, list_model_versions

JOB_KEY = "predict_job_id"

st.title("Batch predict")
st.caption("Run a whole file through a model version. The work runs as a background job, in "
           "chunks, so large files are fine; the result is the input columns plus `prediction` "
           "(and `proba_<class>` for classifiers).")

rows = list_model_versions(store())
if not rows:
    empty_state("No models yet. Train one first; batch prediction uses a registered model.",
                page="pages/train.py", label="Train a model")

refs = [r["ref"] for r in rows]
wanted = st.session_state.get(Keys.MODEL)
ref = st.selectbox("Model version", refs, index=refs.index(wanted) if wanted in refs else 0,
                   key="predict_model")
version = get_version(store(), rows[refs.index(ref)]["id"])
schema = (version.card or {}).get("input_schema") or []
with st.expander(f"Columns {version.ref} expects ({len(schema)})"):
    st.text(", ".join(str(c["name"]) for c in schema))

source_kind = st.radio("Input", ["Upload a CSV", "A dataset version"], horizontal=True,
                       key="predict_source")
source = None
if source_kind == "Upload a CSV":
    upload = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key="predict_upload")
    if upload is not None:
        source = ("file", upload)
else:
    datasets = list_datasets(store())
    if not datasets:
        st.info("No datasets yet; upload a CSV instead or import data on the Data page.")
    else:
        dataset = st.selectbox("Dataset", [d.name for d in datasets], key="predict_dataset")
        versions = list_versions(store(), dataset)
        labels = [f"{v.ref} ({v.rows:,} rows)" for v in versions]
        picked = st.selectbox("Version", labels, key="predict_dataset_version")
        if picked:
            source = ("dataset", versions[labels.index(picked)])

if st.button("Run batch prediction", type="primary", icon=":material/play_arrow:",
             disabled=source is None, key="predict_run"):
    try:
        if source[0] == "file":
            config = stage_upload(store(), source[1].getvalue(), source[1].name,
                                  settings().max_upload_mb)
        else:
            config = {"kind": "dataset", "dataset_version_id": source[1].id,
                      "name": source[1].ref}
        job = start_batch_job(settings(), store(), version, config)
    except StudioError as exc:
        show_error(exc)
    else:
        st.session_state[JOB_KEY] = job.id


@st.fragment(run_every=1.0)
def follow(job_id: int) -> None:
    job = get_batch_job(store(), job_id)
    if job.status not in ("queued", "running"):
        st.rerun()  # finished: render the result once, outside this fragment
    progress = job.progress or {}
    done, total = progress.get("rows_done", 0), progress.get("rows_total") or 0
    fraction = min(1.0, done / total) if total else 0.0
    st.progress(fraction, text=f"Job {job.id} {job.status}: {done:,} of {total:,} rows "
                               f"({progress.get('stage', 'waiting for a worker')})")


def show_result(job) -> None:
    result = job.result or {}
    st.success(f"Job {job.id}: {result.get('rows', 0):,} rows predicted by {result.get('model')}.",
               icon=":material/check_circle:")
    if result.get("ignored_columns"):
        st.caption("Columns not used by the model (kept in the output): "
                   + ", ".join(map(str, result["ignored_columns"])))
    try:
        data = result_bytes(store(), job)
    except StudioError as exc:
        show_error(exc)
        return
    st.download_button("Download predictions (CSV)", data=data,
                       file_name=result.get("download_name", "predictions.csv"),
                       mime="text/csv", icon=":material/download:", key=f"dl_{job.id}")
    st.dataframe(read_preview(data), hide_index=True, width="stretch")


job_id = st.session_state.get(JOB_KEY)
if job_id:
    job = get_batch_job(store(), job_id)
    if job.status in ("queued", "running"):
        follow(job_id)
    elif job.status == "succeeded":
        show_result(job)
    else:
        st.error(f"Job {job.id} {job.status}: {job.error or 'no details'}", icon=":material/error:")
