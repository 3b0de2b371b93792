"""Topic ids in the decoded (schema-layer) APIs: requests virtual -> real, responses real -> virtual.

The APIs here are small and rare next to Produce and Fetch (group heartbeats, offset commits, share
fetches, describes), so they go through decode -> rewrite -> encode. One walker serves them all:
every field named `TopicId` anywhere in the message is mapped, because Kafka's JSON uses that name
for every topic id a client can see (docs/design.md lists them). In a response, a struct that names
its topic beside the id (`Name` or `TopicName`) teaches the map that id first, so a topic created
after the monitor's last poll is known as soon as a client could have learnt it.
"""

from __future__ import annotations

import uuid
from typing import Any

from protocol.patch.topic_ids import IdMap, TopicIds

_NAME_FIELDS = ("Name", "TopicName")


def _walk(node: Any, ids: IdMap, topics: TopicIds | None) -> bool:
    """Map every TopicId under `node`; `topics` set means learn name -> id first. True if any changed."""
    if isinstance(node, list):
        changed = False
        for item in node:
            changed = _walk(item, ids, topics) or changed
        return changed
    if not isinstance(node, dict):
        return False
    changed = False
    for key, value in node.items():
        if key == "TopicId" and isinstance(value, uuid.UUID):
            changed = _swap(node, value, ids, topics) or changed
        elif isinstance(value, (list, dict)):
            changed = _walk(value, ids, topics) or changed
    return changed


def _swap(holder: Any, value: uuid.UUID, ids: IdMap, topics: TopicIds | None) -> bool:
    raw = value.bytes
    name = next((holder[f] for f in _NAME_FIELDS if isinstance(holder.get(f), str)), None)
    mapped = topics.learn(name, raw) if topics is not None and name is not None and raw != bytes(16) else ids[raw]
    if mapped == raw:
        return False
    holder["TopicId"] = uuid.UUID(bytes=mapped)
    return True


def request_ids_to_real(msg: Any, version: int, mapper: Any) -> bool:
    """A request's topic ids as the upstream cluster knows them."""
    return _walk(msg, mapper.topics.to_real, None)


def response_ids_to_virtual(msg: Any, version: int, mapper: Any) -> bool:
    """A response's topic ids as clients know them (learning every named one)."""
    return _walk(msg, mapper.topics.to_virtual, mapper.topics)
