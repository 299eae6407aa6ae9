import streamlit as st

st.title("Wrangle")
st.info("This page is being built.")
