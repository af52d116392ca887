"""The federation the node starts with, before governance has sent any update.

`chain.federation` when the config has one; otherwise (local mode) the mock
governance server's federation, whose public keys derive from
`governance.mock.federation_seed`. It is version 0: governance's first
update must carry version 1 or higher.
"""

from __future__ import annotations

from actors.messages import Member
from btc.federation import Federation
from nodeconfig import NodeConfig

INITIAL_VERSION = 0


def initial_federation(config: NodeConfig) -> Federation[Member]:
    chain = config.chain
    if chain.federation is not None:
        members = tuple(Member(m.member_id, bytes.fromhex(m.public_key))
                        for m in chain.federation.members)
        return Federation(INITIAL_VERSION, members, chain.federation.threshold,
                          script_type=chain.federation.script_type)
    # Imported here: only local mode needs the mock's key derivation.
    from btc.seeded import federation_keys

    mock = config.governance.mock
    keys = federation_keys(mock.federation_seed, mock.federation_size)
    members = tuple(Member(f"mock-{i}", key) for i, key in enumerate(keys))
    return Federation(INITIAL_VERSION, members, mock.federation_threshold)
