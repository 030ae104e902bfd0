"""The exceptions Deskmate raises on purpose.

    DeskmateError
    └── BackendError           a model backend did not give a usable answer
        ├── Unavailable        nothing answered (refused, DNS, TLS, not installed)
        ├── Timeout            the job's deadline passed
        ├── HTTPStatus         the server answered with an error status
        └── BadResponse        the server answered, but not with what its protocol promises

Every message is written for the user: it names the profile and what to do, never an API key.
"""

from __future__ import annotations


class DeskmateError(Exception):
    """Base class of every error Deskmate raises on purpose."""


class BackendError(DeskmateError):
    """A model backend did not produce a usable answer."""

    def __init__(self, message: str, *, profile: str = "") -> None:
        super().__init__(f"profile '{profile}': {message}" if profile else message)
        self.profile = profile


class Unavailable(BackendError):
    """Nothing answered: connection refused, name not found, TLS failure, engine not installed."""


class Timeout(BackendError):
    """The job's deadline passed before the backend finished."""


class HTTPStatus(BackendError):
    """The backend answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int, profile: str = "") -> None:
        super().__init__(message, profile=profile)
        self.status = status


class BadResponse(BackendError):
    """The backend answered with something its wire protocol does not allow (or cut it short)."""
