"""The referral lifecycle: each side may do only what its part allows; anything else is refused with
what it may do instead (the API's 409)."""

import itertools

import pytest
from lotse_contracts import ReferralStatus as S
from lotse_routing.domain.lifecycle import (
    OPEN,
    Action,
    IllegalTransition,
    Side,
    allowed,
    cancelled_by_withdrawal,
    transition,
)


def test_a_referral_walks_from_draft_to_completed_through_hold_and_back() -> None:
    steps = [
        (Side.SENDER, Action.SUBMIT, S.REQUESTED),
        (Side.RECIPIENT, Action.ACKNOWLEDGE, S.ACKNOWLEDGED),
        (Side.RECIPIENT, Action.ACCEPT, S.ACCEPTED),
        (Side.RECIPIENT, Action.START, S.IN_PROGRESS),
        (Side.RECIPIENT, Action.HOLD, S.ON_HOLD),
        (Side.RECIPIENT, Action.RESUME, S.IN_PROGRESS),
        (Side.RECIPIENT, Action.COMPLETE, S.COMPLETED),
    ]
    status, held_from = S.DRAFT, None
    for side, action, expected in steps:
        step = transition(status, action, side, held_from)
        assert (step.before, step.after) == (status, expected)
        status, held_from = step.after, step.held_from if step.after is S.ON_HOLD else held_from
    assert allowed(S.COMPLETED, Side.RECIPIENT) == []


def test_a_wrong_move_is_refused_with_what_this_side_may_do() -> None:
    with pytest.raises(IllegalTransition) as refused:
        transition(S.REQUESTED, Action.COMPLETE, Side.RECIPIENT)
    assert refused.value.allowed == [Action.ACKNOWLEDGE, Action.ACCEPT, Action.DECLINE, Action.FORWARD]
    with pytest.raises(IllegalTransition) as sender:
        transition(S.REQUESTED, Action.ACCEPT, Side.SENDER)  # only the recipient accepts
    assert sender.value.allowed == [Action.CANCEL, Action.ENTERED_IN_ERROR]
    with pytest.raises(IllegalTransition):
        transition(S.ACCEPTED, Action.CANCEL, Side.RECIPIENT)  # the recipient declines or fails, never cancels


def test_finished_referrals_only_take_an_error_mark_from_the_sender() -> None:
    for status in (S.COMPLETED, S.FAILED, S.DECLINED, S.FORWARDED, S.CANCELLED):
        assert allowed(status, Side.RECIPIENT) == [] and allowed(status, Side.SYSTEM) == []
        assert allowed(status, Side.SENDER) == [Action.ENTERED_IN_ERROR]
    assert all(allowed(S.ENTERED_IN_ERROR, side) == [] for side in Side)


def test_hold_returns_to_where_it_was_put_on_hold() -> None:
    for before in (S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS):
        held = transition(before, Action.HOLD, Side.RECIPIENT)
        assert held.after is S.ON_HOLD and held.held_from is before
        assert transition(S.ON_HOLD, Action.RESUME, Side.RECIPIENT, held.held_from).after is before
    with pytest.raises(ValueError, match="on hold from"):
        transition(S.ON_HOLD, Action.RESUME, Side.RECIPIENT)


def test_the_system_submits_the_child_a_forward_makes_and_nothing_else() -> None:
    assert allowed(S.DRAFT, Side.SYSTEM) == [Action.SUBMIT, Action.CANCEL]
    assert allowed(S.DRAFT, Side.RECIPIENT) == []


def test_a_withdrawn_consent_cancels_what_is_still_under_way() -> None:
    referrals = [(f"r-{s.value}", s) for s in S]
    cancelled = cancelled_by_withdrawal(referrals)
    assert set(cancelled) == {f"r-{s.value}" for s in OPEN | {S.DRAFT}}
    for ident in cancelled:
        status = S(ident.removeprefix("r-"))
        assert transition(status, Action.CANCEL, Side.SYSTEM).after is S.CANCELLED


def test_every_allowed_move_goes_where_its_action_says_and_every_other_is_refused() -> None:
    targets = {Action.ACCEPT: S.ACCEPTED, Action.DECLINE: S.DECLINED, Action.FORWARD: S.FORWARDED}
    for status, action, side in itertools.product(S, Action, Side):
        if action in allowed(status, side):
            step = transition(status, action, side, S.ACCEPTED if status is S.ON_HOLD else None)
            assert step.before is status
            if action in targets:
                assert step.after is targets[action]
        else:
            with pytest.raises(IllegalTransition) as refused:
                transition(status, action, side)
            assert action not in refused.value.allowed
