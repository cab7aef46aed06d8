"""The exceptions a user can meet, each saying what to do about it."""

from collections.abc import Sequence


class CorrelatorError(Exception):
    """Base of every error correlator raises on purpose."""


class TopologyError(CorrelatorError):
    """A topology file is unusable.

    ``problems`` holds every ``(node id or None, reason)`` found; the message shows
    one a line, each naming the file and node. Fix them and run
    ``correlator topology validate FILE`` again.
    """

    def __init__(self, path: str, problems: Sequence[tuple[str | None, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(
            "\n".join(
                f"{path}: node {node!r}: {reason}" if node is not None else f"{path}: {reason}"
                for node, reason in self.problems
            )
        )


class SettingsError(CorrelatorError):
    """A setting (flag or ``CORRELATOR_*`` variable) has a value that cannot be used.

    The message names the setting and the value expected; correct it and start again.
    """


class FileAccessError(CorrelatorError):
    """A file named on the command line cannot be opened, read or written."""
