from embit.base import EmbitBase
from embit.descriptor.taptree import TapTree
from embit.script import Script

class Descriptor(EmbitBase):
    taptree: TapTree
    @classmethod
    def from_string(cls, desc: str) -> Descriptor: ...
    def script_pubkey(self, idx: int | None = ...) -> Script: ...
