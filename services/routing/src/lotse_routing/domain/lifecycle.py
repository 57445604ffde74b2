"""The referral lifecycle of docs/architecture.md (section Referral lifecycle): which side may do what, when.

    draft → requested → acknowledged → accepted → in_progress → completed | failed
                │             ├→ declined (reason)      ⇅ on_hold
                │             └→ forwarded (a child referral to the new recipient)
                └→ cancelled (by the sender; consent withdrawn; client moved; expired)
    any → entered_in_error

Where the diagram is silent: the recipient may accept, decline or forward a referral it has not
acknowledged yet (doing so acknowledges it); a referral on hold goes back to the state it was put on
hold from; only the sending side (or an admin) marks a referral entered in error; the system submits
the child referral a forward makes.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lotse_contracts import ReferralStatus as S


class Side(StrEnum):
    """Who acts on a referral: the sending case managers, the receiving agency, or the system (timers,
    consent withdrawal). An admin acts as either side."""

    SENDER = "sender"
    RECIPIENT = "recipient"
    SYSTEM = "system"


class Action(StrEnum):
    SUBMIT = "submit"
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    START = "start"
    DECLINE = "decline"
    FORWARD = "forward"
    HOLD = "hold"
    RESUME = "resume"
    COMPLETE = "complete"
    FAIL = "fail"
    CANCEL = "cancel"
    ENTERED_IN_ERROR = "entered_in_error"


OPEN = frozenset({S.REQUESTED, S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
"""States in which a referral is still under way (consent withdrawal cancels these)."""

_TO: dict[Action, S] = {
    Action.SUBMIT: S.REQUESTED,
    Action.ACKNOWLEDGE: S.ACKNOWLEDGED,
    Action.ACCEPT: S.ACCEPTED,
    Action.START: S.IN_PROGRESS,
    Action.DECLINE: S.DECLINED,
    Action.FORWARD: S.FORWARDED,
    Action.HOLD: S.ON_HOLD,
    Action.COMPLETE: S.COMPLETED,
    Action.FAIL: S.FAILED,
    Action.CANCEL: S.CANCELLED,
    Action.ENTERED_IN_ERROR: S.ENTERED_IN_ERROR,
}

_RULES: dict[Action, tuple[frozenset[S], frozenset[Side]]] = {
    Action.SUBMIT: (frozenset({S.DRAFT}), frozenset({Side.SENDER, Side.SYSTEM})),
    Action.ACKNOWLEDGE: (frozenset({S.REQUESTED}), frozenset({Side.RECIPIENT})),
    Action.ACCEPT: (frozenset({S.REQUESTED, S.ACKNOWLEDGED}), frozenset({Side.RECIPIENT})),
    Action.START: (frozenset({S.ACCEPTED}), frozenset({Side.RECIPIENT})),
    Action.DECLINE: (frozenset({S.REQUESTED, S.ACKNOWLEDGED, S.ON_HOLD}), frozenset({Side.RECIPIENT})),
    Action.FORWARD: (frozenset({S.REQUESTED, S.ACKNOWLEDGED}), frozenset({Side.RECIPIENT})),
    Action.HOLD: (frozenset({S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS}), frozenset({Side.RECIPIENT})),
    Action.RESUME: (frozenset({S.ON_HOLD}), frozenset({Side.RECIPIENT})),
    Action.COMPLETE: (frozenset({S.ACCEPTED, S.IN_PROGRESS}), frozenset({Side.RECIPIENT})),
    Action.FAIL: (frozenset({S.ACCEPTED, S.IN_PROGRESS}), frozenset({Side.RECIPIENT})),
    Action.CANCEL: (frozenset({S.DRAFT}) | OPEN, frozenset({Side.SENDER, Side.SYSTEM})),
    Action.ENTERED_IN_ERROR: (frozenset(S) - {S.ENTERED_IN_ERROR}, frozenset({Side.SENDER})),
}


class IllegalTransition(Exception):
    """The action is not allowed now (409); ``allowed`` lists what this side may do instead."""

    def __init__(self, status: S, action: Action, side: Side, allowed: list[Action]) -> None:
        super().__init__(f"{side.value} cannot {action.value} a referral that is {status.value}")
        self.status, self.action, self.side, self.allowed = status, action, side, allowed


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    before: S
    after: S
    held_from: S | None
    """After ``hold``: the state to resume to."""


def allowed(status: S, side: Side) -> list[Action]:
    """The actions ``side`` may take on a referral in ``status``, in lifecycle order."""
    return [a for a, (sources, sides) in _RULES.items() if status in sources and side in sides]


def transition(status: S, action: Action, side: Side, held_from: S | None = None) -> Transition:
    """The state change ``action`` makes, or :class:`IllegalTransition`. ``held_from``: for a referral on
    hold, the state it was put on hold from (``resume`` returns there)."""
    if action not in allowed(status, side):
        raise IllegalTransition(status, action, side, allowed(status, side))
    if action is Action.RESUME:
        if held_from is None or held_from is S.ON_HOLD:
            raise ValueError("a referral on hold must know the state it was put on hold from")
        return Transition(action, status, held_from, None)
    after = _TO[action]
    return Transition(action, status, after, status if action is Action.HOLD else None)


def cancelled_by_withdrawal(statuses: Iterable[tuple[str, S]]) -> list[str]:
    """Of these (referral id, status) pairs, the referrals a withdrawn consent cancels: the open ones."""
    return [ident for ident, status in statuses if status in OPEN or status is S.DRAFT]
