"""Dedup decisions, one table row per situation (as Alertmanager's TestDedupStageNeedsUpdate)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import T0

from correlator.alert import Alert
from correlator.dedup import AlertState, Decision, due, expire, observe
from correlator.settings import CoreSettings

SETTINGS = CoreSettings(resolve_timeout=300, flap_window=600, flap_threshold=4)


def alert(firing: bool = True, starts: float = T0, ends: float | None = None) -> Alert:
    return Alert(
        fingerprint="f1",
        labels={"alertname": "A"},
        annotations={},
        firing=firing,
        starts_at=starts,
        ends_at=ends,
        received_at=T0,
        generator_url="",
        source_format="generic",
    )


FIRING = AlertState(alert(), firing=True, last_seen=T0, seen=1)
RESOLVED = AlertState(alert(False, ends=T0 + 5), firing=False, last_seen=T0 + 5, seen=1)

OBSERVE_CASES = [
    # (previous state, notification, decision, forwarded as firing?)
    pytest.param(None, alert(), Decision.OPENED, True, id="first firing goes on"),
    pytest.param(
        None, alert(False), Decision.STALE, None, id="resolve of unknown alert is dropped"
    ),
    pytest.param(FIRING, alert(), Decision.REPEAT, None, id="re-notification is a repeat"),
    pytest.param(FIRING, alert(False, ends=T0 + 9), Decision.RESOLVED, False, id="resolve goes on"),
    pytest.param(RESOLVED, alert(starts=T0 + 8), Decision.OPENED, True, id="firing again reopens"),
    pytest.param(
        RESOLVED,
        alert(starts=T0),
        Decision.STALE,
        None,
        id="late firing of the episode that ended does not reopen it",
    ),
    pytest.param(
        RESOLVED,
        alert(starts=T0 - 60),
        Decision.STALE,
        None,
        id="late firing of an even earlier episode does not reopen",
    ),
    pytest.param(
        FIRING._replace(firing=False),
        alert(starts=T0),
        Decision.OPENED,
        True,
        id="firing after the resolve timeout reopens: no end was ever told",
    ),
    pytest.param(RESOLVED, alert(False), Decision.REPEAT, None, id="repeated resolve is a repeat"),
    pytest.param(
        FIRING._replace(alert=alert(starts=T0 + 100)),
        alert(False, starts=T0, ends=T0 + 50),
        Decision.STALE,
        None,
        id="late end of an earlier episode does not resolve the current one",
    ),
]


@pytest.mark.parametrize(("state", "notification", "decision", "forwarded"), OBSERVE_CASES)
def test_observe(
    state: AlertState | None, notification: Alert, decision: Decision, forwarded: bool | None
) -> None:
    step = observe(state, notification, T0 + 10, SETTINGS)
    assert step.decision is decision
    if forwarded is None:
        assert step.transition is None
    else:
        assert step.transition is not None
        assert step.transition.firing is forwarded


def test_repeat_refreshes_last_seen_and_count() -> None:
    step = observe(FIRING, alert(), T0 + 60, SETTINGS)
    assert step.state is not None
    assert (step.state.last_seen, step.state.seen) == (T0 + 60, 2)


def flip(
    times: int, start: float = T0, gap: float = 10
) -> tuple[AlertState | None, list[Decision]]:
    state: AlertState | None = None
    decisions = []
    for i in range(times + 1):
        firing = i % 2 == 0
        # Each firing is a new episode, started when it is told; each resolve ends it.
        episode = start + (i - i % 2) * gap
        notification = alert(firing, starts=episode, ends=None if firing else start + i * gap)
        step = observe(state, notification, start + i * gap, SETTINGS)
        state = step.state
        decisions.append(step.decision)
    return state, decisions


def test_flapping_is_held_and_reported_once() -> None:
    state, decisions = flip(8)
    # threshold 4: four flips pass, the fifth makes it flapping, later flips are held.
    assert decisions[:5] == [Decision.OPENED, Decision.RESOLVED, Decision.OPENED,
                             Decision.RESOLVED, Decision.OPENED]  # fmt: skip
    assert decisions[5] is Decision.FLAPPING
    assert decisions[6:] == [Decision.HELD] * 3
    assert state is not None and state.flapping


def test_flapping_is_reported_as_firing_even_when_it_flips_to_resolved() -> None:
    state, _ = flip(4)
    step = observe(state, alert(False, ends=T0 + 50), T0 + 50, SETTINGS)
    assert step.decision is Decision.FLAPPING
    assert step.transition is not None and step.transition.firing and step.transition.flapping


def test_flips_spread_wider_than_the_window_are_not_flapping() -> None:
    _, decisions = flip(8, gap=200)  # never more than 3 flips inside 600 s
    assert Decision.FLAPPING not in decisions


def test_flapping_settles_to_the_real_state_after_a_quiet_window() -> None:
    state, _ = flip(6)  # last notification (i=6) was firing at T0 + 60
    assert state is not None
    assert expire(state, T0 + 60 + 599, SETTINGS) is None
    step = expire(state, T0 + 60 + 600, SETTINGS)
    assert step is not None and step.decision is Decision.SETTLED
    assert step.transition is not None and step.transition.firing and not step.transition.flapping


def test_resolve_timeout() -> None:
    assert expire(FIRING, T0 + 299, SETTINGS) is None
    step = expire(FIRING, T0 + 300, SETTINGS)
    assert step is not None and step.decision is Decision.TIMED_OUT
    assert step.transition is not None and not step.transition.firing
    assert step.state is not None and not step.state.firing


def test_resolved_state_is_forgotten_after_the_flap_window() -> None:
    assert expire(RESOLVED, RESOLVED.last_seen + 599, SETTINGS) is None
    step = expire(RESOLVED, RESOLVED.last_seen + 600, SETTINGS)
    assert step is not None and (step.decision, step.state) == (Decision.FORGOTTEN, None)


@pytest.mark.parametrize(
    "state", [FIRING, RESOLVED, flip(6)[0]], ids=["firing", "resolved", "flapping"]
)
def test_due_is_when_expire_first_acts(state: AlertState) -> None:
    moment = due(state, SETTINGS)
    assert expire(state, moment - 0.001, SETTINGS) is None
    assert expire(state, moment, SETTINGS) is not None


@given(st.lists(st.booleans(), min_size=1, max_size=30))
def test_repeating_every_notification_changes_nothing_downstream(statuses: list[bool]) -> None:
    """Idempotence: sending each notification twice forwards exactly the same transitions."""

    def forwarded(sequence: list[bool]) -> list[tuple[bool, bool]]:
        state: AlertState | None = None
        out = []
        for i, firing in enumerate(sequence):
            step = observe(state, alert(firing, ends=T0 + i), T0 + i, SETTINGS)
            state = step.state
            if step.transition:
                out.append((step.transition.firing, step.transition.flapping))
        return out

    doubled = [firing for firing in statuses for _ in range(2)]
    assert forwarded(doubled) == forwarded(statuses)


def test_state_is_not_mutated() -> None:
    observe(FIRING, alert(), T0 + 5, SETTINGS)
    assert FIRING.last_seen == T0 and FIRING.seen == 1


@given(
    st.floats(min_value=1e9, max_value=4e9, allow_nan=False),
    st.floats(min_value=0.001, max_value=86400, allow_nan=False),
    st.sampled_from(["firing", "resolved", "flapping"]),
)
def test_a_timer_set_for_due_always_finds_the_state_due(
    last_seen: float, timeout: float, kind: str
) -> None:
    """Float rounding must never leave a fired timer with nothing to do (a lost timer)."""
    settings = CoreSettings(resolve_timeout=timeout, flap_window=timeout)
    state = {
        "firing": FIRING._replace(last_seen=last_seen),
        "resolved": RESOLVED._replace(last_seen=last_seen),
        "flapping": FIRING._replace(last_seen=last_seen, flips=(last_seen,), flapping=True),
    }[kind]
    assert expire(state, due(state, settings), settings) is not None


def test_reviewer_case_300ms_timeout_resolves() -> None:
    settings = CoreSettings(resolve_timeout=0.3)
    state = FIRING._replace(last_seen=1700255068.7257394)
    assert expire(state, due(state, settings), settings) is not None
