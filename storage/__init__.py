"""The store: SQLModel tables, sessions, migrations and the artifact folder.

Nothing here imports streamlit or studio.
"""
