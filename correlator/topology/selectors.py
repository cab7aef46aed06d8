"""Alert label selectors and the index that finds an alert's node without scanning all nodes.

A selector is a map of label name to value; an alert matches when every pair
matches. A value starting with ``~`` is a regular expression that must match the
whole label value (``pod: "~cartservice-.*"``).
"""

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

REGEX_PREFIX = "~"


class Selector(NamedTuple):
    exact: tuple[tuple[str, str], ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def parse(cls, pairs: Mapping[str, str]) -> "Selector":
        """Build from a label map; raises ``re.error`` for a bad ``~`` pattern."""
        exact, patterns = [], []
        for name, value in sorted(pairs.items()):
            if value.startswith(REGEX_PREFIX):
                patterns.append((name, re.compile(value[len(REGEX_PREFIX) :])))
            else:
                exact.append((name, value))
        return cls(tuple(exact), tuple(patterns))

    @property
    def size(self) -> int:
        """How specific the selector is: its number of conditions."""
        return len(self.exact) + len(self.patterns)

    def matches(self, labels: Mapping[str, str]) -> bool:
        for name, value in self.exact:
            if labels.get(name) != value:
                return False
        for name, pattern in self.patterns:
            found = labels.get(name)
            if found is None or pattern.fullmatch(found) is None:
                return False
        return True

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.exact]
        parts += [f"{k}=~{p.pattern}" for k, p in self.patterns]
        return "{" + ", ".join(parts) + "}"


class _Entry(NamedTuple):
    node_id: str
    order: int
    selector: Selector


class SelectorIndex:
    """Finds the node an alert belongs to.

    Each selector is filed under one of its exact pairs, the rarest one across all
    selectors, so a lookup only tests the few selectors that share a label pair with
    the alert. Selectors made only of patterns are filed under a label name. When
    several nodes match, the most specific selector wins, then the node listed first.
    """

    def __init__(self, selectors: Iterable[tuple[str, Selector]]) -> None:
        entries = [_Entry(node_id, order, sel) for order, (node_id, sel) in enumerate(selectors)]
        frequency = Counter(pair for entry in entries for pair in entry.selector.exact)
        self._by_pair: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        self._by_name: dict[str, list[_Entry]] = defaultdict(list)
        for entry in entries:
            if entry.selector.exact:
                anchor = min(entry.selector.exact, key=lambda pair: (frequency[pair], pair))
                self._by_pair[anchor].append(entry)
            elif entry.selector.patterns:
                self._by_name[entry.selector.patterns[0][0]].append(entry)

    def match(self, labels: Mapping[str, str]) -> str | None:
        best: _Entry | None = None
        for candidates in self._candidates(labels):
            for entry in candidates:
                if (
                    best is None
                    or (entry.selector.size, -entry.order) > (best.selector.size, -best.order)
                ) and entry.selector.matches(labels):
                    best = entry
        return None if best is None else best.node_id

    def _candidates(self, labels: Mapping[str, str]) -> Iterable[list[_Entry]]:
        for pair in labels.items():
            found = self._by_pair.get(pair)
            if found:
                yield found
        for name in labels:
            found = self._by_name.get(name)
            if found:
                yield found
