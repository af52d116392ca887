"""governance.v1 on the wire: protobuf in and out, the node's message dataclasses on our side.

The one place where `protocol.governance_pb2` and `actors.messages` meet. Pure
functions and plain data: no grpc, no I/O, time passed in as arguments.

- `enums`: each governance.v1 enum as the lowercase names the messages use,
  and the integer ranges of the wire.
- `encode`: the requests the node sends, built from messages (`EncodeError`
  for a value the wire cannot carry).
- `events`: what a frame from governance means, one frozen dataclass per kind.
- `checks`: what the node accepts from governance: the refusal kinds, the
  fixed bounds (ids, keys, signatures, free text), checks of one value.
- `decode`: one frame in, one event out, or `MalformedFrame` with its kind
  and reason; `decode_frame`, the reader's entry point, never raises.
"""
