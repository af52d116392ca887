from typing import Self

class P2WSHBitcoinAddress:
    @classmethod
    def from_bytes(cls, witver: int, witprog: bytes) -> Self: ...
