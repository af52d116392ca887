from embit.base import EmbitBase

class Signature(EmbitBase):
    # The parsed signature in libsecp256k1's internal 64-byte form; embit has no
    # public accessor for it.
    _sig: bytes
    def __init__(self, sig: bytes) -> None: ...

class PublicKey(EmbitBase):
    def sec(self) -> bytes: ...
    def verify(self, sig: Signature, msg_hash: bytes) -> bool: ...
