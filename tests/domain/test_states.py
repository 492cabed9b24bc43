"""The transition table itself: terminal states are never left, every state is reachable."""

from __future__ import annotations

from vgen.domain.states import INITIAL_STATE, TRANSITIONS, TaskState


def test_no_transition_leaves_a_terminal_state() -> None:
    for state in TaskState:
        leaving = [t.name for t in TRANSITIONS if t.allows(state)]
        assert state.is_terminal == (leaving == []), (state, leaving)


def test_every_state_is_reachable_from_the_initial_one() -> None:
    reached, frontier = {INITIAL_STATE}, [INITIAL_STATE]
    while frontier:
        state = frontier.pop()
        for move in TRANSITIONS:
            if move.allows(state) and move.target not in reached:
                reached.add(move.target)
                frontier.append(move.target)
    assert reached == set(TaskState)


def test_transition_names_are_unique() -> None:
    assert len({t.name for t in TRANSITIONS}) == len(TRANSITIONS)
