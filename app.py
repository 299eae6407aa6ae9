"""Studio's entry point: page config, navigation grouped by stage, shared sidebar."""
import streamlit as st

st.set_page_config(page_title="Studio", page_icon=":material/science:", layout="wide")

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

st.navigation(PAGES).run()
