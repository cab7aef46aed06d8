"""Root-cause ranking rules, each tie-break on its own."""

from support import T0, shop

from correlator.rootcause import Suspect, rank


def suspect(node: str, start: float = T0) -> Suspect:
    return Suspect(node, start, (f"fp-{node}",))


def test_the_node_that_explains_most_wins_regardless_of_start() -> None:
    ranked = rank(shop(), "checkout", [suspect("cartservice", T0), suspect("redis-cart", T0 + 60)])
    assert [c.node for c in ranked] == ["redis-cart", "cartservice"]
    assert [c.confidence for c in ranked] == [1.0, 0.5]
    assert ranked[0].explains == ("cartservice",)


def test_tie_goes_to_the_deeper_node_before_the_earlier_start() -> None:
    # Neither explains the other; redis-cart is 4 hops below checkout, payment 3.
    ranked = rank(shop(), "checkout", [suspect("payment", T0), suspect("redis-cart", T0 + 60)])
    assert [c.node for c in ranked] == ["redis-cart", "payment"]


def test_then_the_earlier_start_then_the_node_id() -> None:
    ranked = rank(shop(), "checkout", [suspect("payment", T0 + 1), suspect("cartservice", T0)])
    assert [c.node for c in ranked] == ["cartservice", "payment"]
    ranked = rank(shop(), "checkout", [suspect("payment", T0), suspect("cartservice", T0)])
    assert [c.node for c in ranked] == ["cartservice", "payment"]


def test_candidates_carry_kind_and_alerts() -> None:
    [only] = rank(shop(), "checkout", [suspect("redis-cart")])
    assert (only.kind, only.fingerprints, only.confidence) == ("cache", ("fp-redis-cart",), 1.0)


def test_no_suspects_no_candidates() -> None:
    assert rank(shop(), "checkout", []) == []
