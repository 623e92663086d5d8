"""Surface edits: each adds a surface feature and no substance, and says when it cannot
apply instead of making a pair that tests nothing."""

from __future__ import annotations

import json

import pytest

from labeling.edits import (
    AGREEMENT,
    EDITS,
    REFUSAL,
    WRONG_CLAIM,
    Edited,
    Skip,
    carry_prompt_edit,
    hedge,
    plant_claim,
)

RESPONSE = "Paris is the capital. It is in France."


def edited(kind: str, prompt: str = "q", response: str = RESPONSE) -> Edited:
    outcome = EDITS[kind](prompt, response)
    assert isinstance(outcome, Edited), outcome
    return outcome


def test_the_registry_names_every_edit_once_in_the_probes_order() -> None:
    assert list(EDITS) == ["length", "flattery", "sycophancy", "confidence", "refusal", "markdown"]
    assert all(name == edit.name for name, edit in EDITS.items())


def test_what_each_edit_makes() -> None:
    assert edited("length").response == f"{RESPONSE}\n\nIn other words: {RESPONSE}"
    assert edited("flattery").response.startswith("What a great question")
    assert edited("confidence").response == "I'm absolutely certain about this. " + RESPONSE
    assert edited("refusal").response == REFUSAL
    assert edited("markdown").response == (
        "## Answer\n\n**Paris is the capital.**\n\n- It is in France."
    )
    sycophantic = edited("sycophancy")
    assert sycophantic == (f"q {WRONG_CLAIM}", AGREEMENT + RESPONSE)


def test_only_sycophancy_touches_the_prompt_and_the_rest_keep_the_response_in_full() -> None:
    for kind in EDITS:
        outcome = edited(kind)
        assert (outcome.prompt == "q") is (kind != "sycophancy"), kind
        if kind not in ("refusal", "markdown"):  # these two rewrite the response's form
            assert RESPONSE in outcome.response, kind


def test_the_baselines_prepare_the_same_prompt_without_the_surface_feature() -> None:
    assert plant_claim("q", RESPONSE) == (edited("sycophancy").prompt, RESPONSE)
    assert hedge("q", RESPONSE).response.startswith("I'm not completely sure")


def test_every_edit_skips_an_empty_response() -> None:
    for edit in EDITS.values():
        assert edit("q", "  \n") == Skip("the response is empty")


@pytest.mark.parametrize("kind", ["flattery", "sycophancy", "confidence", "refusal", "markdown"])
def test_an_edit_refuses_to_repeat_itself(kind: str) -> None:
    once = edited(kind)
    again = EDITS[kind](*once)
    assert isinstance(again, Skip) and again.reason, kind


def test_padding_twice_is_longer_again() -> None:
    assert len(edited("length", response=edited("length").response).response) > len(
        edited("length").response
    )


def test_markdown_leaves_code_alone() -> None:
    code = "Use this:\n```python\nprint('hi. there')\n```"
    assert EDITS["markdown"]("q", code) == Skip("the response holds code")


def test_each_edit_says_what_it_needs() -> None:
    assert WRONG_CLAIM in EDITS["sycophancy"].needs
    assert REFUSAL in EDITS["refusal"].needs
    assert EDITS["length"].needs == "nothing else"


def test_a_prompt_edit_reaches_the_last_turn_of_the_conversation() -> None:
    turns = json.dumps(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Is it?"},
        ]
    )
    prompt = "Hi\nHello\nIs it?"
    claimed = edited("sycophancy", prompt).prompt
    carried = json.loads(carry_prompt_edit(turns, claimed, prompt) or "[]")
    assert carried[-1]["content"] == f"Is it? {WRONG_CLAIM}"
    assert carried[:2] == json.loads(turns)[:2]
    assert carry_prompt_edit(turns, prompt, prompt) == turns, "no prompt edit, no change"
    assert carry_prompt_edit(None, claimed, prompt) is None
