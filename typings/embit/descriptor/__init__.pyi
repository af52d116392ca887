from embit.base import EmbitBase
from embit.script import Script

class _Miniscript:
    def compile(self) -> bytes: ...

class _TapLeaf:
    miniscript: _Miniscript

class _TapTree:
    tree: _TapLeaf

class Descriptor(EmbitBase):
    taptree: _TapTree
    @classmethod
    def from_string(cls, desc: str) -> Descriptor: ...
    def script_pubkey(self, idx: int | None = ...) -> Script: ...
