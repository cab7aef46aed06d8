"""State survives the trip through bytes exactly: a restored worker has what it had."""

from hypothesis import given, settings
from hypothesis import strategies as st
from support import T0, generic, pipeline, webhook

from correlator import codec
from correlator.pipeline import Pipeline

TARGETS = ["redis-cart", "cartservice", "frontend", "payment", "catalog-db", "lb"]

steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=120),
        st.sampled_from(TARGETS),
        st.sampled_from(["critical", "warning", "info"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


def drive(script: list[tuple[float, str, str, bool]]) -> Pipeline:
    p = pipeline()
    now = T0
    for gap, service, severity, firing in script:
        now += gap
        alert = generic("Failure", at=now, severity=severity, service=service)
        if not firing:
            alert |= {"status": "resolved", "endsAt": alert["startsAt"]}
        p.receive_document(webhook(alert), now)
    return p


@settings(max_examples=100, deadline=None)
@given(steps)
def test_every_state_round_trips(script: list[tuple[float, str, str, bool]]) -> None:
    p = drive(script)
    for state in p.alerts.values():
        assert (
            codec.alert_state_from(codec.loads(codec.dumps(codec.alert_state_to(state)))) == state
        )
    for service in p.services.values():
        raw = codec.dumps(codec.service_state_to(service))
        assert codec.service_state_from(codec.loads(raw)) == service
