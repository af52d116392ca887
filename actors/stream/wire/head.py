"""The head of a frame without parsing its body: its metadata's request id and which
payload it carries.

A frame over `governance.limits.max_frame_bytes` is refused unparsed (parsing is
what costs seconds and hundreds of MB), but a refused *push* must still be
acknowledged by its id (convention 8), or governance would push it again on every
session and cut each one short. A `StreamResponse`'s top level is a handful of
fields: the metadata (field 1, small) and one payload (fields 10 to 60). This
walks those tags and lengths, skipping the payload's bytes, and parses only the
metadata with protobuf itself. Anything it cannot walk gives no head.
"""

from __future__ import annotations

from protocol import governance_pb2 as pb

_METADATA_FIELD = 1
_PAYLOADS = {field.number: field.name
             for field in pb.StreamResponse.DESCRIPTOR.oneofs_by_name["payload"].fields}
_MAX_TOP_LEVEL_FIELDS = 16  # a real frame has two or three


def frame_head(data: bytes) -> tuple[pb.ResponseMetadata | None, str | None]:
    """(the metadata, the payload field's name) of a raw `StreamResponse`, as far as they
    can be read without parsing the payload; (None, None) for bytes that do not walk."""
    metadata: pb.ResponseMetadata | None = None
    payload: str | None = None
    position, end = 0, len(data)
    for _ in range(_MAX_TOP_LEVEL_FIELDS):
        if position >= end:
            return metadata, payload
        tag, position = _varint(data, position)
        field, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 2:
            length, position = _varint(data, position)
            start, position = position, position + length
            if position > end:
                break
            if field == _METADATA_FIELD:
                try:
                    metadata = pb.ResponseMetadata.FromString(data[start:position])
                except Exception:  # a metadata that does not parse: no head
                    return None, None
            elif field in _PAYLOADS:
                payload = _PAYLOADS[field]
        else:
            break
        if position > end:
            break
    return None, None


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
    raise_at = len(data) + 1  # truncated or over 64 bits: past the end, so the walk stops
    return 0, raise_at
