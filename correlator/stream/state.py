"""The worker's state: Faust tables of the core's values, seen one partition at a time.

Faust's in-memory store keeps the Python values themselves; only the changelog
holds bytes, written by the codecs here (``correlator.codec``: explicit JSON that
the next version can read and a human can inspect with kcat). A stage is handed a
``PartitionView``: the keys of the table that live on its partition.

Every value is stamped with the offset of the input record whose step wrote it.
After a crash, Faust reads again the records after the last committed offset,
some of which were already applied to the state restored from the changelog;
the stamps say which keys already have a record's effect, so that it is applied
once (``PartitionView.applied``) and a restart neither loses nor invents events.
"""

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, NamedTuple, TypeVar

from faust.serializers.codecs import Codec
from faust.types import FutureMessage, TableT

from correlator import codec
from correlator.stream.merge import Merge
from correlator.stream.records import change_key, partition_of

V = TypeVar("V")


class Stamped(NamedTuple, Generic[V]):
    offset: int
    """Offset of the input record whose step wrote the value (-1: none known)."""
    value: V


class StateCodec(Codec):
    """A Faust codec for one of the core's state values, stamped."""

    def __init__(self, to_json: Callable[[Any], codec.Json], from_json: Callable[[Any], Any]):
        super().__init__()
        self._to_json = to_json
        self._from_json = from_json

    def _dumps(self, stamped: Any) -> bytes:
        return codec.dumps({"offset": stamped.offset, "value": self._to_json(stamped.value)})

    def _loads(self, data: bytes) -> Any:
        raw = codec.loads(data)
        return Stamped(raw["offset"], self._from_json(raw["value"]))


def _merge_to(merge: Merge) -> codec.Json:
    held = [[list(key), codec.change_to(change)] for key, change in merge.held]
    released = [list(merge.released[0]), merge.released[1]] if merge.released else None
    return {"clocks": list(merge.clocks), "held": held, "released": released}


def _merge_from(raw: codec.Json) -> Merge:
    held = tuple((change_key(key), codec.change_from(change)) for key, change in raw["held"])
    released = raw["released"]
    last = (change_key(released[0]), released[1]) if released else None
    return Merge(tuple(raw["clocks"]), held, last)


ALERT_STATE = StateCodec(codec.alert_state_to, codec.alert_state_from)
SERVICE_STATE = StateCodec(codec.service_state_to, codec.service_state_from)
MERGE = StateCodec(_merge_to, _merge_from)


class PartitionView(MutableMapping[str, V], Generic[V]):
    """The keys of ``table`` that hash to ``partition``, with writes held until ``flush``.

    Why held: a step's state must reach the changelog only after what the step
    sent downstream was acknowledged. Should the worker die between the two, the
    input is processed again from the old state and sends the same records again
    (same event ids), where the other order would lose them. Writes go to the
    view's own changelog partition, whatever record Faust is handling.
    """

    def __init__(self, table: TableT[str, Stamped[V]], partition: int, partitions: int) -> None:
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
        stamped: Stamped[V] = self._table[key]
        return stamped.value

    def __setitem__(self, key: str, value: V) -> None:
        self._held[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._held[key] = None

    def __iter__(self) -> Iterator[str]:
        mine = {key for key in self._table if partition_of(key, self._partitions) == self.partition}
        mine.update(key for key, value in self._held.items() if value is not None)
        return (key for key in mine if self._held.get(key, True) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def applied(self, key: str, offset: int) -> bool:
        """Whether the stored value of ``key`` already has the effect of input ``offset``."""
        stamped = self._table.get(key)
        return stamped is not None and stamped.offset >= offset

    @property
    def held(self) -> bool:
        """Whether writes wait for ``flush``."""
        return bool(self._held)

    def flush(self, offset: int) -> list[FutureMessage]:
        """Write what was held, stamped with ``offset``, to the table and its changelog.

        Returns the changelog records' futures: done once the broker has them.
        """
        sent = []
        for key, value in self._held.items():
            if value is None:
                self._table.data.pop(key, None)
                sent.append(
                    self._table.send_changelog(self.partition, key, None, value_serializer="raw")
                )
            else:
                stamped = Stamped(offset, value)
                self._table.data[key] = stamped
                sent.append(self._table.send_changelog(self.partition, key, stamped))
        self._held.clear()
        return sent
