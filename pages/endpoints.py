import streamlit as st

st.title("Endpoints")
st.info("This page is being built.")
