"""
Packed frontier states
======================

A breadth-first level wider than :attr:`~arspec.model.engine.FrontierCodec.pack_above`
states keeps its further states as compressed bytes (about 1.3 KB against about 15 KB of
objects for the scale bundle) and unpacks each when it is expanded. Two things keep a packed
state small and quick to write:

* The objects every state of one system shares (its preset and map definitions) are written
  as references, resolved again from the system's :class:`SharedObjects`.
* A ring buffer is written with its live bytes only (:func:`make_live_ring`): nothing reads
  the others (:mod:`arspec.spec.ringbuf`, "Dead bytes"), so the unpacked ring has zeros
  there and behaves as the packed one.

Both go through the pickler's ``reducer_override``, which :mod:`pickle` calls only for
objects of other than built-in types (about 50 per state); a ``persistent_id`` would be
called for every object, strings and integers included (about 500): packing and unpacking
took 1.5x as long. A packed state lives only inside the process that packed it.
"""

from __future__ import annotations

import io
import itertools
import pickle
import weakref
import zlib
from collections.abc import Sequence
from typing import Any, Final

from arspec.spec.ringbuf import RingBuffer, get_live_bytes, process_ringbuf_write
from arspec.spec.types import RingPos

#: The shared objects of every live :class:`SharedObjects`, by its token.
_REGISTRY: Final[dict[int, list[object]]] = {}
_TOKENS: Final = itertools.count(1)


class SharedObjects:
    """The objects every state of one system shares, referred to by index in its packed
    states (:meth:`pack`, :meth:`unpack`)."""

    def __init__(self, objects: Sequence[object]) -> None:
        self.objects = list(objects)
        self.ids = {id(obj): n for n, obj in enumerate(self.objects)}
        self.token = next(_TOKENS)
        _REGISTRY[self.token] = self.objects
        weakref.finalize(self, _REGISTRY.pop, self.token, None)

    def pack(self, state: object) -> bytes:
        """Return ``state`` as compressed bytes."""
        buffer = io.BytesIO()
        _Pickler(buffer, self).dump(state)
        return zlib.compress(buffer.getvalue(), 1)

    def unpack(self, data: bytes) -> Any:
        """Return the state :meth:`pack` packed."""
        return _Unpickler(io.BytesIO(zlib.decompress(data))).load()


def get_shared_object(token: object, index: object) -> object:
    """Return the shared object ``index`` of the :class:`SharedObjects` ``token`` (what a
    packed state holds in its place)."""
    objects = _REGISTRY.get(token) if isinstance(token, int) else None
    if objects is None or not isinstance(index, int) or not 0 <= index < len(objects):
        raise pickle.UnpicklingError(f"unknown shared object {token!r}/{index!r}")
    return objects[index]


def make_live_ring(size: int, live: bytes, consumer_pos: RingPos, producer_pos: RingPos,
                   pending_pos: RingPos) -> RingBuffer:
    """Return a ring holding ``live`` from ``consumer_pos`` on and zeros elsewhere."""
    ring = RingBuffer(size, bytearray(size), consumer_pos, producer_pos, pending_pos)
    process_ringbuf_write(ring, consumer_pos, live)
    return ring


class _Pickler(pickle.Pickler):
    """Writes shared objects as :func:`get_shared_object` and rings as
    :func:`make_live_ring` calls."""

    def __init__(self, file: io.BytesIO, shared: SharedObjects) -> None:
        super().__init__(file, protocol=5)
        self.ids = shared.ids
        self.token = shared.token

    def reducer_override(self, obj: Any) -> Any:
        index = self.ids.get(id(obj))
        if index is not None:
            return (get_shared_object, (self.token, index))
        if type(obj) is RingBuffer:
            return (make_live_ring, (obj.size, get_live_bytes(obj), obj.consumer_pos,
                                     obj.producer_pos, obj.pending_pos))
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    """Refuses persistent references (a packed state has none)."""

    def persistent_load(self, pid: object) -> object:
        raise pickle.UnpicklingError(f"unknown shared object {pid!r}")


__all__: Sequence[str] = ["SharedObjects", "get_shared_object", "make_live_ring"]
