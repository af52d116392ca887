"""ChainActor: the federation in force, the scheduled ones, and the block height.

Modules: ``book`` (the federation versions and the schedule, pure),
``initial`` (the federation the node starts with), ``height`` (where the
height comes from: a clock or an EVM node's `eth_blockNumber`), ``actor``.
"""
