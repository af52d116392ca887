# The public actor API of Thespian 4.0 (thespian/actors.py), as far as the node uses it.

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import ClassVar, Literal

class ActorSystemException(Exception): ...
class ActorSystemFailure(ActorSystemException): ...

class ActorAddress:
    """Opaque and unhashable: compare with ==, never use as a dict key or in a set."""

    def __init__(self, aaddr: object) -> None: ...
    @property
    def addressDetails(self) -> object: ...
    @property
    def actorAddressString(self) -> str: ...
    def __eq__(self, o: object) -> bool: ...
    def __ne__(self, o: object) -> bool: ...
    # Thespian sets __hash__ = None; typeshed spells it this way for list too.
    __hash__: ClassVar[None]  # type: ignore[assignment]  # unhashable, unlike object

class ActorSystemMessage: ...

class ActorExitRequest(ActorSystemMessage):
    def __init__(self, recursive: bool = True) -> None: ...
    @property
    def isRecursive(self) -> bool: ...
    def notRecursive(self) -> None: ...

class ChildActorExited(ActorSystemMessage):
    def __init__(self, exitedChildAddress: ActorAddress) -> None: ...
    @property
    def childAddress(self) -> ActorAddress: ...

class PoisonMessage(ActorSystemMessage):
    def __init__(self, poison: object, details: object = None) -> None: ...
    @property
    def poisonMessage(self) -> object: ...
    @property
    def details(self) -> object: ...

class WakeupMessage(ActorSystemMessage):
    delayPeriod: float | timedelta
    payload: object
    def __init__(self, delayPeriod: float | timedelta, payload: object = None) -> None: ...

class ThespianWatch:
    """Returned from receiveMessage: also wake the actor when one of these fds is ready."""

    filenos: Sequence[int]
    def __init__(self, filenos: Sequence[int]) -> None: ...

class WatchMessage(ActorSystemMessage):
    ready: list[int]
    def __init__(self, ready: list[int]) -> None: ...

# What createActor accepts: a class, or its importable "module.Class" name.
_ActorClass = type[Actor] | str

class Actor:
    def __init__(self) -> None: ...
    # What a handler returns reaches Thespian, which acts only on a ThespianWatch.
    def receiveMessage(self, msg: object, sender: ActorAddress) -> ThespianWatch | None: ...
    @property
    def myAddress(self) -> ActorAddress: ...
    def createActor(
        self,
        actorClass: _ActorClass,
        targetActorRequirements: object = None,
        globalName: str | None = None,
        sourceHash: str | None = None,
    ) -> ActorAddress: ...
    def send(self, targetAddr: ActorAddress, msg: object) -> None: ...
    def wakeupAfter(self, timePeriod: float | timedelta, payload: object = None) -> None: ...

class ActorTypeDispatcher(Actor):
    """Calls receiveMsg_<Type>(message, sender) for the message's type or a base of it.

    A handler that returns SUPER passes the message on to a base class's handler;
    the optional receiveUnrecognizedMessage(message, sender) gets the rest.
    """

    SUPER: ClassVar[int]

class ActorSystem:
    def __init__(
        self,
        systemBase: str | None = None,
        capabilities: Mapping[str, object] | None = None,
        logDefs: Mapping[str, object] | Literal[False] | None = None,
        transientUnique: bool = False,
    ) -> None: ...
    def shutdown(self) -> None: ...
    def createActor(
        self,
        actorClass: _ActorClass,
        targetActorRequirements: object = None,
        globalName: str | None = None,
        sourceHash: str | None = None,
    ) -> ActorAddress: ...
    def tell(self, actorAddr: ActorAddress, msg: object) -> None: ...
    # ask and listen return whatever message arrives (from any actor), or None
    # once the timeout has passed: the caller narrows it.
    def listen(self, timeout: float | timedelta | None = None) -> object: ...
    def ask(
        self, actorAddr: ActorAddress, msg: object, timeout: float | timedelta | None = None
    ) -> object: ...
