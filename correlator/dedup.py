"""Deduplication: the lifecycle of one alert, keyed by fingerprint.

Theory of operation. Senders repeat themselves: Alertmanager re-notifies a firing
alert on every group interval, and a flaky check fires and resolves over and over.
Downstream (correlation) must see each alert's *state changes* only. For every
fingerprint we keep an ``AlertState`` and decide, for each notification
(``observe``) and each tick of the clock (``expire``), one ``Decision``:

======================  =========================================  ==============
decision                when                                       goes on as
======================  =========================================  ==============
OPENED                  first firing, or firing again              firing
REPEAT                  same state as already known                nothing
STALE                   resolved, but for an alert not firing; or  nothing
                        a resolve or a firing of an episode before
                        the current one
RESOLVED                was firing, now resolved                   resolved
FLAPPING                flipped more than ``flap_threshold`` times  firing, flapping
                        within ``flap_window``
HELD                    flipped while flapping                     nothing
SETTLED                 no flip for ``flap_window`` while flapping  its real state
TIMED_OUT               firing, not refreshed in resolve_timeout   resolved
FORGOTTEN               resolved for ``flap_window``: state dropped  nothing
======================  =========================================  ==============

Functions here are pure: state in, state out, time as an argument.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from correlator.alert import Alert
from correlator.settings import CoreSettings


class Decision(StrEnum):
    OPENED = "opened"
    REPEAT = "repeat"
    STALE = "stale"
    RESOLVED = "resolved"
    FLAPPING = "flapping"
    HELD = "held"
    SETTLED = "settled"
    TIMED_OUT = "timed_out"
    FORGOTTEN = "forgotten"


class AlertState(NamedTuple):
    """What dedup remembers of one fingerprint.

    A NamedTuple rather than a dataclass: a million of these are open at once in a
    storm, and a tuple is both the smallest and the fastest to copy with a change.
    """

    alert: Alert
    """The latest notification."""
    firing: bool
    """The sender's latest word (or the resolve timeout's)."""
    last_seen: float
    seen: int
    """Notifications seen in the current state."""
    flips: tuple[float, ...] = ()
    """Times of recent state changes, for flap detection."""
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change that goes on to correlation."""

    alert: Alert
    firing: bool
    flapping: bool
    at: float


class Step(NamedTuple):
    """What one notification or tick decided (a NamedTuple: one per notification)."""

    state: AlertState | None
    decision: Decision
    transition: Transition | None = None


def observe(state: AlertState | None, alert: Alert, now: float, settings: CoreSettings) -> Step:
    """Decide what one notification means, given what is known of its fingerprint."""
    if state is None:
        if not alert.firing:
            return Step(None, Decision.STALE)
        return Step(
            AlertState(alert, True, now, 1), Decision.OPENED, Transition(alert, True, False, now)
        )
    if alert.firing == state.firing:
        # Built, not _replace()d: most notifications are repeats, and this is several
        # times cheaper.
        repeat = AlertState(alert, state.firing, now, state.seen + 1, state.flips, state.flapping)
        return Step(repeat, Decision.REPEAT)
    if _earlier_episode(alert, state):
        return Step(state, Decision.STALE)
    flips = (*(t for t in state.flips if now - t < settings.flap_window), now)
    flipped = AlertState(alert, alert.firing, now, 1, flips[-(settings.flap_threshold + 1) :])
    if state.flapping:
        return Step(flipped._replace(flapping=True), Decision.HELD)
    if len(flips) > settings.flap_threshold:
        # Reported once, as firing: a flapping alert is a problem even while it looks resolved.
        return Step(
            flipped._replace(flapping=True), Decision.FLAPPING, Transition(alert, True, True, now)
        )
    decision = Decision.OPENED if alert.firing else Decision.RESOLVED
    return Step(flipped, decision, Transition(alert, alert.firing, False, now))


def _earlier_episode(alert: Alert, state: AlertState) -> bool:
    """A notification of an episode before the current one, delivered late: a resolve
    that ended before the current firing started, or a firing that started no later
    than the episode whose resolve is known.

    Late deliveries come from Alertmanager HA peers, and from a worker's parse stage
    sending a message again after a crash. A firing after a resolve that carries the
    resolved episode's own start is one of them; a new episode starts later.
    """
    known = state.alert
    if not alert.firing:
        return alert.ends_at is not None and alert.ends_at < known.starts_at
    return not known.firing and alert.starts_at <= known.starts_at


def expire(state: AlertState, now: float, settings: CoreSettings) -> Step | None:
    """What the passing of time does to a fingerprint; None while nothing is due.

    Due-ness is ``due`` itself, one formula: a timer set for ``due(state)`` must find
    the state due when it fires, whatever float rounding ``now - last_seen`` would do.
    """
    if now < due(state, settings):
        return None
    if state.flapping:
        settled = state._replace(flapping=False, flips=())
        return Step(settled, Decision.SETTLED, Transition(state.alert, state.firing, False, now))
    if state.firing:
        timed_out = state._replace(firing=False, last_seen=now, seen=0)
        return Step(timed_out, Decision.TIMED_OUT, Transition(state.alert, False, False, now))
    return Step(None, Decision.FORGOTTEN)


def due(state: AlertState, settings: CoreSettings) -> float:
    """The earliest time at which ``expire`` may act on this state."""
    if state.flapping:
        return state.flips[-1] + settings.flap_window
    if state.firing:
        return state.last_seen + settings.resolve_timeout
    return state.last_seen + settings.flap_window
