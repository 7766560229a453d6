"""Domain errors. `controlplane.api.errors` maps each to one HTTP status, in one place."""

from __future__ import annotations


class DcloudError(Exception):
    """Base of every error a caller can act on; `field` names the input at fault, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DcloudError):
    """The named thing does not exist (404)."""


class Conflict(DcloudError):
    """The request clashes with the current state: an illegal transition, a duplicate (409)."""


class InvalidInput(DcloudError):
    """Input that is well-formed but not acceptable (422)."""


class NoCapacity(Conflict):
    """No host can take the server (409)."""


class ConcurrentChange(Conflict):
    """Another transaction changed the row first; the same request may succeed when retried (409)."""


class Unauthenticated(DcloudError):
    """No token, or an unknown or revoked one (401)."""


class Forbidden(DcloudError):
    """The token's role may not do this (403)."""


class Unavailable(DcloudError):
    """This replica cannot serve the request now; another replica, or a retry after `retry_after_s`,
    may (503 with Retry-After)."""

    def __init__(self, message: str, *, field: str | None = None, retry_after_s: int = 10) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s
