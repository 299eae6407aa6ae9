"""The prediction service: its own process, a FastAPI app built by ``create_app(settings)``.

Modules: ``inputs`` (parse and validate request bodies against the training schema),
``compiled`` (the fast path: raw values straight to the fitted ColumnTransformer's
matrix), ``model`` (a loaded model version: predict, explain), ``explain``,
``endpoints_state`` (polls the store and swaps models), ``logwriter`` (prediction
capture off the request path), ``metrics``, ``security`` (Host and API-key checks),
``app`` (routes), ``server`` (``serve``), ``process`` (start/stop it detached for the UI),
``background`` (hook for tasks the service runs beside requests, e.g. monitoring).

This package file stays light: importing ``studio.service`` loads nothing heavy.
"""
