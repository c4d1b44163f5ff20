"""The task state machine: all 25 (from, to) pairs against a table written out here."""

import pytest

from schemas.states import ALLOWED, InvalidTransition, TaskState, can_transition, check_transition

P, S, R, C, F = (
    TaskState.Pending,
    TaskState.Scheduled,
    TaskState.Running,
    TaskState.Completed,
    TaskState.Failed,
)

# Rows are "from", columns are "to", in the order P S R C F. 1 = allowed.
EXPECTED = {
    P: {P: 0, S: 1, R: 0, C: 1, F: 0},
    S: {P: 1, S: 0, R: 1, C: 1, F: 1},
    R: {P: 1, S: 0, R: 0, C: 1, F: 1},
    C: {P: 1, S: 1, R: 0, C: 0, F: 0},
    F: {P: 1, S: 1, R: 0, C: 0, F: 0},
}
PAIRS = [(a, b) for a in TaskState for b in TaskState]


def test_the_table_covers_every_pair() -> None:
    assert len(PAIRS) == 25
    assert set(EXPECTED) == set(TaskState)
    assert all(set(row) == set(TaskState) for row in EXPECTED.values())


@pytest.mark.parametrize(("current", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_transition(current: TaskState, new: TaskState) -> None:
    allowed = bool(EXPECTED[current][new])
    assert can_transition(current, new) is allowed
    assert (new in ALLOWED[current]) is allowed
    if allowed:
        check_transition(current, new)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(current, new)
        assert f"from {current} to {new}" in str(info.value)
        assert isinstance(info.value, ValueError)
        assert (info.value.current, info.value.new) == (current, new)


def test_no_state_goes_to_itself() -> None:
    assert not any(can_transition(s, s) for s in TaskState)


def test_the_allowed_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        ALLOWED[P] = frozenset()  # type: ignore[index]


def test_states_are_the_user_facing_strings() -> None:
    assert [str(s) for s in TaskState] == ["Pending", "Scheduled", "Running", "Completed", "Failed"]
    assert TaskState("Running") is R
    assert R == "Running"


def test_the_message_says_where_it_may_go_instead() -> None:
    with pytest.raises(InvalidTransition, match=r"may go to Completed, Scheduled"):
        check_transition(P, F)
