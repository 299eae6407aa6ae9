"""Home: the state of the studio at a glance, and where to start."""
import streamlit as st

from pages._ui import md_escape, store
from studio.overview import studio_overview

st.title("Studio")
st.caption("Upload a table, let AutoML find a model, publish it, and watch it in production — "
           "all on this machine.")

counts, activity = studio_overview(store())

if counts.datasets == 0:
    st.subheader("Start here")
    steps = st.columns(4)
    for col, (n, title, text, page) in zip(steps, [
        (1, "Add data", "Load a sample or upload a CSV, Excel or Parquet file.", "pages/data.py"),
        (2, "Train", "AutoML searches models and tunes them within a time budget.", "pages/train.py"),
        (3, "Publish", "One click puts the best model behind a live HTTP endpoint.", "pages/models.py"),
        (4, "Monitor", "Watch drift, data quality, traffic and accuracy.", "pages/monitor.py"),
    ]):
        with col.container(border=True):
            st.markdown(f"**{n}. {title}**")
            st.caption(text)
            st.page_link(page, label=f"Go to {title.lower()}", icon=":material/arrow_forward:")
    st.stop()

cards = st.columns(5)
cards[0].metric("Datasets", counts.datasets, help=f"{counts.dataset_versions} versions in all")
cards[1].metric("Jobs running", counts.jobs_active, help=f"{counts.jobs_total} jobs in all")
cards[2].metric("Models", counts.models, help=f"{counts.model_versions} versions in all")
cards[3].metric("Live endpoints", counts.endpoints_live, help=f"{counts.endpoints} endpoints in all")
cards[4].metric("Open alerts", counts.alerts_open)

if counts.alerts_open:
    st.warning(f"{counts.alerts_open} monitoring alert(s) need attention.", icon=":material/warning:")
    st.page_link("pages/monitor.py", label="Open the monitor", icon=":material/monitoring:")

left, right = st.columns([3, 2])
with left:
    st.subheader("Next step")
    if counts.models == 0 and counts.jobs_active == 0:
        st.info("You have data. Train a model on it next.", icon=":material/model_training:")
        st.page_link("pages/train.py", label="Train a model", icon=":material/arrow_forward:")
    elif counts.jobs_active:
        st.info("A search is running; follow its leaderboard.", icon=":material/hourglass_top:")
        st.page_link("pages/train.py", label="Watch the search", icon=":material/arrow_forward:")
    elif counts.endpoints_live == 0:
        st.info("You have a model. Publish it to an endpoint.", icon=":material/cloud_upload:")
        st.page_link("pages/models.py", label="Publish a model", icon=":material/arrow_forward:")
    else:
        st.success("A model is live. Send it traffic and watch it.", icon=":material/check_circle:")
        st.page_link("pages/monitor.py", label="Monitor endpoints", icon=":material/arrow_forward:")
with right:
    st.subheader("Recent activity")
    if not activity:
        st.caption("Nothing yet.")
    for item in activity:
        st.markdown(f"`{item.at:%Y-%m-%d %H:%M}` {md_escape(item.text)}")
