"""An in-memory `EventStore` for the SDK's Streamable HTTP transport: it makes SSE streams
resumable (`Last-Event-ID`), which the SSE polling fixture (SEP-1699) needs. The SDK defines the
interface but ships no implementation; this one keeps every event for the life of the process.
"""

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage


class InMemoryEventStore(EventStore):
    """Every event of every stream, in order; ids are `{stream}_{seq}`."""

    def __init__(self) -> None:
        self._events: list[tuple[StreamId, EventId, JSONRPCMessage | None]] = []
        self._index: dict[EventId, int] = {}

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = f"{stream_id}_{len(self._events)}"
        self._index[event_id] = len(self._events)
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        position = self._index.get(last_event_id)
        if position is None:
            return None
        stream_id = self._events[position][0]
        for stream, event_id, message in self._events[position + 1 :]:
            # Priming events (no message) are not replayed.
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id
