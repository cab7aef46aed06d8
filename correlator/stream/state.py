"""The worker's state: Faust tables of the core's values, seen one partition at a time.

Faust's in-memory store keeps the Python values themselves; only the changelog
holds bytes, written by the codecs here (``correlator.codec``: explicit JSON that
the next version can read and a human can inspect with kcat). A stage is handed a
``PartitionView``: the keys of the table that live on its partition.
"""

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar

from faust.serializers.codecs import Codec
from faust.types import TableT

from correlator import codec
from correlator.stream.merge import Merge
from correlator.stream.records import change_key, partition_of

V = TypeVar("V")


class StateCodec(Codec):
    """A Faust codec for one of the core's state values."""

    def __init__(self, to_json: Callable[[Any], codec.Json], from_json: Callable[[Any], Any]):
        super().__init__()
        self._to_json = to_json
        self._from_json = from_json

    def _dumps(self, value: Any) -> bytes:
        return codec.dumps(self._to_json(value))

    def _loads(self, data: bytes) -> Any:
        return self._from_json(codec.loads(data))


def _merge_to(merge: Merge) -> codec.Json:
    held = [[list(key), codec.change_to(change)] for key, change in merge.held]
    return {"clocks": list(merge.clocks), "held": held}


def _merge_from(raw: codec.Json) -> Merge:
    held = tuple((change_key(key), codec.change_from(change)) for key, change in raw["held"])
    return Merge(tuple(raw["clocks"]), held)


ALERT_STATE = StateCodec(codec.alert_state_to, codec.alert_state_from)
SERVICE_STATE = StateCodec(codec.service_state_to, codec.service_state_from)
MERGE = StateCodec(_merge_to, _merge_from)


class PartitionView(MutableMapping[str, V], Generic[V]):
    """The keys of ``table`` that hash to ``partition``, with writes held until ``flush``.

    Why held: a step's state must reach the changelog only after what the step
    sent downstream was acknowledged. Should the worker die between the two, the
    input is processed again from the old state and sends the same records again
    (same event ids), where the other order would lose them. Writing needs
    Faust's current event (the changelog record goes to its partition), so only
    the agent reading that partition flushes a view.
    """

    def __init__(self, table: TableT[str, V], partition: int, partitions: int) -> None:
        self._table = table
        self.partition = partition
        self._partitions = partitions
        self._held: dict[str, V | None] = {}
        """Written since the last flush; None: deleted."""

    def __getitem__(self, key: str) -> V:
        if key in self._held:
            held = self._held[key]
            if held is None:
                raise KeyError(key)
            return held
        value: V = self._table[key]
        return value

    def __setitem__(self, key: str, value: V) -> None:
        self._held[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._held[key] = None

    def __iter__(self) -> Iterator[str]:
        keys = {key for key in self._table if partition_of(key, self._partitions) == self.partition}
        keys.update(key for key, value in self._held.items() if value is not None)
        return iter(sorted(key for key in keys if self._held.get(key, True) is not None))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @property
    def held(self) -> bool:
        """Whether writes wait for ``flush``."""
        return bool(self._held)

    def flush(self) -> None:
        """Write what was held to the table, and so to its changelog."""
        for key, value in self._held.items():
            if value is None:
                self._table.pop(key, None)
            else:
                self._table[key] = value
        self._held.clear()
