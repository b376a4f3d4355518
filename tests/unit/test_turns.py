"""Turn taking on judged frames (bot.speech.turns): pure."""

from __future__ import annotations

from bot.speech.turns import Turn, TurnConfig, TurnEvent, voiced

CFG = TurnConfig(end_silence_ms=300, min_speech_ms=80, barge_in_ms=120)


def run(turn: Turn, frames: str, *, playing: bool = False) -> list[tuple[int, TurnEvent]]:
    """Push frames written as a string: '#' voice, '.' silence; (frame index, event) pairs."""
    events = []
    for i, c in enumerate(frames):
        event = turn.push(c == "#", playing=playing)
        if event is not None:
            events.append((i, event))
    return events


def test_speech_then_trailing_silence_ends_the_turn() -> None:
    turn = Turn(CFG, no_input_s=5, max_speech_s=10)
    events = run(turn, "...####" + "#" * 10 + "." * 15 + "#")
    assert events == [(6, TurnEvent.STARTED), (31, TurnEvent.ENDED)]
    assert turn.start == 3 and turn.speech_ms == 14 * 20


def test_short_burst_is_not_speech_and_pause_inside_speech_does_not_end_it() -> None:
    turn = Turn(CFG, no_input_s=5, max_speech_s=10)
    assert run(turn, "##..#..") == []  # a click and a cough-like burst: no turn
    turn = Turn(CFG, no_input_s=5, max_speech_s=10)
    events = run(turn, "#####" + "." * 14 + "#####" + "." * 15)
    assert [e for _, e in events] == [TurnEvent.STARTED, TurnEvent.ENDED]
    assert events[-1][0] == 5 + 14 + 5 + 14


def test_no_input_counts_only_after_the_prompt() -> None:
    turn = Turn(CFG, no_input_s=0.2, max_speech_s=10)
    assert run(turn, "." * 100, playing=True) == []
    assert run(turn, "." * 10) == [(9, TurnEvent.NO_INPUT)]


def test_speech_over_an_interruptible_prompt_needs_barge_in_ms() -> None:
    turn = Turn(CFG, no_input_s=5, max_speech_s=10)
    assert run(turn, "#####.", playing=True) == []  # 100 ms: too short to stop the prompt
    assert run(turn, "######", playing=True) == [(5, TurnEvent.BARGE_IN)]
    assert turn.barged


def test_not_interruptible_prompt_starts_the_turn_without_stopping() -> None:
    turn = Turn(CFG, no_input_s=5, max_speech_s=10, interruptible=False)
    assert run(turn, "######", playing=True) == [(5, TurnEvent.STARTED)]
    assert not turn.barged


def test_max_speech_caps_endless_speech() -> None:
    turn = Turn(CFG, no_input_s=5, max_speech_s=1)
    events = run(turn, "#" * 200)
    assert events == [(3, TurnEvent.STARTED), (49, TurnEvent.MAX_SPEECH)]
    assert run(turn, "#") == []  # over: later frames change nothing


def test_echo_of_our_prompt_is_not_voice() -> None:
    cfg = TurnConfig(echo_margin_db=12)
    assert voiced(0.9, 1000, 0, cfg)
    assert not voiced(0.9, 1000, 10_000, cfg)  # 20 dB below what we sent: echo
    assert voiced(0.9, 4000, 10_000, cfg)  # 8 dB below: the customer over our voice
    assert not voiced(0.3, 4000, 0, cfg)  # unlikely speech
    assert not voiced(0.9, 10, 0, cfg)  # below the noise floor
