from typing import Self

class CTxIn: ...

class CTransaction:
    vin: tuple[CTxIn, ...]
    @classmethod
    def deserialize(cls, buf: bytes) -> Self: ...
