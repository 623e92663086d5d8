"""Probes: the arithmetic on a reward anyone can compute (word count), and the real thing on
tiny models trained to prefer longer responses or not."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from data import frames
from labeling.edits import EDITS
from labeling.rater_probes import PROBE_KINDS, RETEST, make_probe_pairs
from reward.config import TrainConfig
from reward.probes import PROBES, run_probes, swap_probe
from reward.score import RewardScorer
from reward.train import train
from tests.reward.conftest import SnapshotMaker, Vote


class WordCount:
    """A reward that is pure length bias: the number of words in the response."""

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        prompt_messages: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        return np.array([len(response.split()) for response in responses], dtype=float)


def probe(name: str) -> list:  # type: ignore[type-arg]
    return [p for p in PROBES if p.name == name]


def test_length_probe_arithmetic_on_a_word_count_reward() -> None:
    pairs = pl.DataFrame(
        {
            "prompt": ["q", "q"],
            "response_a": ["a b c", "one"],
            "response_b": ["a b", "one two three four five six seven eight"],
        }
    )
    length, swap = run_probes(WordCount(), pairs, probe("length"))
    # Losers "a b" (2 words) and "one" (1) become 7 and 5 words: deltas 5 and 4; only the
    # first now beats its winner (7 > 3, but 5 < 8).
    assert (length.name, length.n) == ("length", 2)
    assert length.mean_delta == pytest.approx(4.5)
    assert length.flip_rate == 0.5
    assert length.ci_low == pytest.approx(4.5 - 1.96 * np.std([5, 4], ddof=1) / np.sqrt(2))
    assert length.flagged
    assert (swap.name, swap.mean_delta, swap.flip_rate, swap.flagged) == (
        "ab_swap",
        0.0,
        0.0,
        False,
    )


def test_each_probe_edit_adds_no_substance() -> None:
    edits = {p.name: p for p in PROBES}
    response = "Paris is the capital. It is in France."
    assert edits["length"].perturb("q", response)[1] == f"{response}\n\nIn other words: {response}"
    assert edits["markdown"].perturb("q", response)[1] == (
        "## Answer\n\n**Paris is the capital.**\n\n- It is in France."
    )
    claim_prompt, agreeing = edits["sycophancy"].perturb("q", response)
    assert edits["sycophancy"].baseline("q", response) == (claim_prompt, response)
    assert agreeing.startswith("You're absolutely right") and agreeing.endswith(response)
    assert edits["confidence"].baseline("q", response)[1].startswith("I'm not completely sure")
    assert (
        edits["refusal"].perturb("q", response)[1]
        == "I'm sorry, but I can't help with that request."
    )
    assert [p.name for p in PROBES] == [
        "length", "flattery", "sycophancy", "confidence", "refusal", "markdown"
    ]  # fmt: skip


def test_a_side_dependent_reward_is_flagged_by_the_swap() -> None:
    class PrefersFirstHalf:
        """Scores by position in the batch: exactly what a reward must never do."""

        def score(
            self, prompts: Sequence[str], responses: Sequence[str], _: object = None
        ) -> np.ndarray:
            n = len(responses)
            return np.array([1.0 if i < n // 2 else 0.0 for i in range(n)])

    pairs = pl.DataFrame({"prompt": ["q"], "response_a": ["x"], "response_b": ["y"]})
    result = swap_probe(PrefersFirstHalf(), pairs)
    assert (result.flip_rate, result.mean_delta, result.flagged) == (1.0, 2.0, True)


WORDS = [
    *("the", "cat", "dog", "bird", "sat", "ran", "flew", "over", "under"),
    *("near", "big", "small", "red", "blue", "green", "house", "tree"),
]


def _text(rng: random.Random, sentences: int, first: str | None = None) -> str:
    parts = [" ".join(rng.choice(WORDS) for _ in range(5)) + "." for _ in range(sentences)]
    return " ".join(([first] if first else []) + parts)


def length_biased(n: int, seed: int) -> list[tuple[str, str, str, list[Vote]]]:
    """The longer response always wins."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        la, lb = rng.sample(range(1, 7), 2)
        rows.append(
            (f"question {i}?", _text(rng, la), _text(rng, lb), [("r1", "a" if la > lb else "b")])
        )
    return rows


def length_neutral(n: int, seed: int) -> list[tuple[str, str, str, list[Vote]]]:
    """The response that says it is helpful wins; lengths are drawn independently."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        good_first = rng.random() < 0.5
        a = _text(rng, rng.randint(1, 6), "helpful answer." if good_first else "useless answer.")
        b = _text(rng, rng.randint(1, 6), "useless answer." if good_first else "helpful answer.")
        rows.append((f"question {i}?", a, b, [("r1", "a" if good_first else "b")]))
    return rows


@pytest.mark.parametrize(("labels", "flagged"), [(length_biased, True), (length_neutral, False)])
def test_the_length_probe_flags_a_model_trained_to_prefer_longer_responses(
    labels: Callable[..., list[tuple[str, str, str, list[Vote]]]],
    flagged: bool,
    make_snapshot: SnapshotMaker,
    tiny_encoder: Path,
    tmp_path: Path,
) -> None:
    snapshot = make_snapshot(labels(160, seed=2))
    config = TrainConfig.from_dict(
        {
            "snapshot": str(snapshot),
            "out": str(tmp_path / "ckpt"),
            "base_model": str(tiny_encoder),
            "epochs": 3,
            "learning_rate": 1e-3,
            "eval_fraction": 0.2,
            "progress_bar": False,
        }
    )
    result = train(config)
    assert result.metrics["epochs"][-1]["eval_accuracy"] >= 0.9  # both learned their rule
    held_out = [(prompt, a, b) for prompt, a, b, _ in labels(64, seed=99)]
    pairs = pl.DataFrame(held_out, schema=["prompt", "response_a", "response_b"], orient="row")
    length, swap = run_probes(RewardScorer.from_checkpoint(result.folder), pairs, probe("length"))
    assert length.flagged is flagged
    if flagged:
        assert length.flip_rate > 0.4 and length.ci_low > 0
    else:
        assert length.flip_rate < 0.1
    assert not swap.flagged


def test_the_model_and_the_raters_are_probed_with_the_same_edits() -> None:
    """Each model probe holds the registry's edit object, and the loser the model scores after
    an edit is, text for text, the loser a rater sees in that kind's probe pair."""
    assert all(probe.edit is EDITS[probe.name] for probe in PROBES)
    assert [probe.name for probe in PROBES] == [k for k in PROBE_KINDS if k != RETEST]

    class Recorder(WordCount):
        """The word-count reward, remembering every (prompt, response) it scores."""

        def __init__(self) -> None:
            self.seen: set[tuple[str, str]] = set()

        def score(
            self,
            prompts: Sequence[str],
            responses: Sequence[str],
            prompt_messages: Sequence[str | None] | None = None,
        ) -> np.ndarray:
            self.seen.update(zip(prompts, responses, strict=True))
            return super().score(prompts, responses, prompt_messages)

    # The longer response wins for the word count; gold says the same for the raters.
    pairs = pl.DataFrame(
        {
            "pair_id": ["p1", "p2"],
            "prompt": ["Capital of France?", "Boiling point of water?"],
            "response_a": ["Paris, on the Seine. It is the capital.", "It is 50 degrees."],
            "response_b": ["Lyon.", "At sea level, 100 degrees Celsius. Less on a mountain."],
            "gold": ["a", "b"],
        }
    )
    recorder = Recorder()
    run_probes(recorder, pairs, PROBES)
    made = make_probe_pairs(pairs, pl.DataFrame(schema=frames.JUDGMENTS))
    assert made.pairs.height == len(PROBES) * pairs.height
    for probe in made.pairs.iter_rows(named=True):
        loser = "b" if probe["gold"] == "a" else "a"
        assert (probe["prompt"], probe[f"response_{loser}"]) in recorder.seen, probe["probe_kind"]
