"""Studio's entry point: page config, navigation grouped by stage, shared sidebar."""
from pathlib import Path

import streamlit as st

# A local icon: a material-icon favicon would be fetched from Google's servers (offline: a
# failed request in the console on every page).
st.set_page_config(page_title="Studio", page_icon=str(Path(__file__).parent / "assets" /
                                                     "studio-icon.png"), layout="wide")

PAGES = {
    "": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Data": [
        st.Page("pages/data.py", title="Datasets", icon=":material/table_chart:"),
        st.Page("pages/wrangle.py", title="Wrangle", icon=":material/tune:"),
    ],
    "Build": [
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
    ],
    "Deploy": [
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
        st.Page("pages/endpoints.py", title="Endpoints", icon=":material/cloud:"),
        st.Page("pages/predict.py", title="Batch predict", icon=":material/batch_prediction:"),
    ],
    "Monitor": [
        st.Page("pages/monitor.py", title="Monitor", icon=":material/monitoring:"),
    ],
}

# Our own sidebar menu: the file-based page list of a `pages/` folder never shows, even on
# a deep link opened before the first run (client.showSidebarNavigation = false).
current = st.navigation(PAGES, position="hidden")
with st.sidebar:
    st.markdown("### :material/science: Studio")
    for section, pages in PAGES.items():
        if section:
            st.caption(section.upper())
        for page in pages:
            st.page_link(page, label=page.title, icon=page.icon)
current.run()
