"""Errors a user can cause. The UI and CLI show their message, never a traceback."""


class StudioError(Exception):
    """A problem the user can act on; ``str(err)`` is written for a person."""


class NotFound(StudioError):
    """A named thing (dataset, model, endpoint, job) does not exist."""


class InvalidInput(StudioError):
    """Input that cannot be used as given: a bad file, name, option or value."""


class Conflict(StudioError):
    """The request clashes with the store's state (a name taken, a job already running)."""


class IntegrityError(StudioError):
    """A stored artifact is missing or does not match its recorded sha256."""
