"""Token ids for (prompt, response) sequences, the pair collator, and length-grouped batches.

A sequence is the prompt, a clear boundary, then the response:

- ``template``: the tokenizer's chat template, the response as the assistant's turn;
- ``pair``: ``[CLS] prompt [SEP] response [SEP]`` with token types 0 / 1 (BERT-style encoders);
- ``plain``: ``User: ...`` / ``Assistant: ...`` role labels and the tokenizer's own specials.

When a sequence is longer than ``max_length`` the prompt gives way first, oldest turns first
(a leading system turn stays), then the front of its most recent turn; the response keeps at
least three quarters of the window and is cut at its end only beyond that. Both responses of
a pair get the same prompt. Every cut is counted (``TruncationCounts``): nothing is dropped
silently.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import polars as pl
import torch
from transformers import PreTrainedTokenizerBase

__all__ = [
    "Encoded",
    "PairCollator",
    "PairExample",
    "SequenceEncoder",
    "TruncationCounts",
    "encode_pairs",
    "length_grouped_batches",
    "pad_sequences",
    "prompt_turns",
    "rank_share",
    "sorted_batches",
]

Turn = tuple[str, str]  # (role, content)

ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant"}
#: Share of the window the prompt keeps (when it has that much) before the response is cut.
PROMPT_SHARE = 0.25
_SENTINEL = "\ue000RESPONSE\ue000"


def prompt_turns(prompt: str, prompt_messages: str | None = None) -> list[Turn]:
    """The prompt as turns: the JSON conversation when given, else one user turn.

    >>> prompt_turns("Hi?", '[{"role": "user", "content": "Hi?"}]')
    [('user', 'Hi?')]
    >>> prompt_turns("Hi?")
    [('user', 'Hi?')]
    """
    if prompt_messages:
        messages = json.loads(prompt_messages)
        if messages:
            return [(str(m["role"]), str(m["content"])) for m in messages]
    return [("user", prompt)]


@dataclass(frozen=True)
class Encoded:
    """One sequence's token ids (types only for the ``pair`` layout) and what was cut."""

    input_ids: list[int]
    token_type_ids: list[int] | None = None
    turns_dropped: int = 0
    prompt_tokens_cut: int = 0
    response_tokens_cut: int = 0


@dataclass
class TruncationCounts:
    """How many sequences lost what, so a run can report it instead of hiding it."""

    sequences: int = 0
    turns_dropped: int = 0
    sequences_with_turns_dropped: int = 0
    prompts_cut: int = 0
    responses_cut: int = 0

    def add(self, encoded: Encoded) -> None:
        self.sequences += 1
        self.turns_dropped += encoded.turns_dropped
        self.sequences_with_turns_dropped += encoded.turns_dropped > 0
        self.prompts_cut += encoded.prompt_tokens_cut > 0
        self.responses_cut += encoded.response_tokens_cut > 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class _Layout(Protocol):
    def frame(self, turns: list[Turn]) -> tuple[list[int], list[int]]:
        """Token ids before and after the response for these prompt turns."""

    def frame_cut(self, turns: list[Turn], budget: int) -> tuple[list[int], list[int], int]:
        """Like ``frame`` but at most ``budget`` ids, cutting the front of the prompt."""


def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    # Whole texts on purpose (truncation is ours), so no "longer than the maximum" warning.
    ids: list[int] = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    return ids


def _render_turns(turns: list[Turn]) -> str:
    return "".join(
        f"{ROLE_LABELS.get(role, role.title())}: {content}\n\n" for role, content in turns
    )


class _ChunkLayout:
    """``head + prompt + tail | response | end``: the pair and plain layouts."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, pair: bool) -> None:
        self.tokenizer = tokenizer
        if pair:
            self.head = [tokenizer.cls_token_id]
            self.tail = [tokenizer.sep_token_id]
            self.end = [tokenizer.sep_token_id]
        else:
            self.head, self.end = _single_specials(tokenizer)
            self.tail = _ids(tokenizer, ROLE_LABELS["assistant"] + ":")

    def _prompt(self, turns: list[Turn]) -> list[int]:
        return _ids(self.tokenizer, _render_turns(turns).rstrip())

    def frame(self, turns: list[Turn]) -> tuple[list[int], list[int]]:
        return self.head + self._prompt(turns) + self.tail, self.end

    def frame_cut(self, turns: list[Turn], budget: int) -> tuple[list[int], list[int], int]:
        prompt = self._prompt(turns)
        room = max(0, budget - len(self.head) - len(self.tail) - len(self.end))
        cut = max(0, len(prompt) - room)
        return self.head + prompt[cut:] + self.tail, self.end, cut


class _TemplateLayout:
    """The tokenizer's chat template with the response as the assistant's turn."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer

    def _render(self, turns: list[Turn]) -> tuple[str, str]:
        messages = [{"role": role, "content": content} for role, content in turns]
        messages.append({"role": "assistant", "content": _SENTINEL})
        text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        before, _, after = str(text).partition(_SENTINEL)
        return before, after

    def frame(self, turns: list[Turn]) -> tuple[list[int], list[int]]:
        before, after = self._render(turns)
        return _ids(self.tokenizer, before), _ids(self.tokenizer, after)

    def frame_cut(self, turns: list[Turn], budget: int) -> tuple[list[int], list[int], int]:
        *earlier, (role, content) = turns
        content_ids = _ids(self.tokenizer, content)
        cut = 0
        for _ in range(8):  # decoding and re-encoding may shift a token or two
            text = str(self.tokenizer.decode(content_ids[cut:]))
            before, after = self.frame([*earlier, (role, text)])
            excess = len(before) + len(after) - budget
            if excess <= 0 or cut >= len(content_ids):
                break
            cut = min(len(content_ids), cut + excess)
        return before, after, cut


def _single_specials(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special ids the tokenizer adds before and after a single text (e.g. BOS)."""
    plain = _ids(tokenizer, "a")
    full: list[int] = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return full[:start], full[start + len(plain) :]
    return [], []


def resolve_format(tokenizer: PreTrainedTokenizerBase, format: str) -> str:
    """``auto``: the chat template when the tokenizer has one, else ``pair`` for tokenizers
    with CLS and SEP tokens, else ``plain``."""
    if format != "auto":
        return format
    if getattr(tokenizer, "chat_template", None):
        return "template"
    if tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
        return "pair"
    return "plain"


class SequenceEncoder:
    """Turns (prompt turns, response) into at most ``max_length`` token ids."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, max_length: int, format: str = "auto"
    ) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.format = resolve_format(tokenizer, format)
        self.layout: _Layout = (
            _TemplateLayout(tokenizer)
            if self.format == "template"
            else _ChunkLayout(tokenizer, pair=self.format == "pair")
        )

    def encode(self, turns: list[Turn], response: str) -> Encoded:
        (encoded,) = self._encode(turns, [response])
        return encoded

    def encode_pair(self, turns: list[Turn], chosen: str, rejected: str) -> tuple[Encoded, Encoded]:
        """Both sides with the same (possibly shortened) prompt."""
        first, second = self._encode(turns, [chosen, rejected])
        return first, second

    def _encode(self, turns: list[Turn], responses: list[str]) -> list[Encoded]:
        prefix, suffix = self.layout.frame(turns)
        frame_len = len(prefix) + len(suffix)
        bodies = [_ids(self.tokenizer, response) for response in responses]
        kept = bodies
        if frame_len + max(len(body) for body in bodies) > self.max_length:
            # The prompt keeps its frame plus a quarter of the window (or all it has).
            bare_prefix, bare_suffix, _ = self.layout.frame_cut(turns[-1:], 0)
            floor = len(bare_prefix) + len(bare_suffix)
            reserve = min(frame_len, floor + int(self.max_length * PROMPT_SHARE))
            kept = [body[: max(0, self.max_length - reserve)] for body in bodies]
        longest = max(len(body) for body in kept)
        dropped, prompt_cut = 0, 0
        if frame_len + longest > self.max_length:
            prefix, suffix, dropped, prompt_cut = self._fit_prompt(turns, longest)
        return [
            self._assemble(prefix, body, suffix, dropped, prompt_cut, len(full) - len(body))
            for full, body in zip(bodies, kept, strict=True)
        ]

    def _fit_prompt(
        self, turns: list[Turn], response_len: int
    ) -> tuple[list[int], list[int], int, int]:
        """Drop the oldest turns (a leading system turn stays), then cut the front."""
        system = turns[:1] if turns and turns[0][0] == "system" else []
        rest = turns[len(system) :]
        budget = self.max_length - response_len
        for dropped in range(1, len(rest)):
            kept = rest[dropped:]
            if kept[0][0] == "assistant":  # a conversation resumes with a user turn
                continue
            prefix, suffix = self.layout.frame(system + kept)
            if len(prefix) + len(suffix) <= budget:
                return prefix, suffix, dropped, 0
        dropped = max(0, len(rest) - 1)
        prefix, suffix, cut = self.layout.frame_cut(system + rest[dropped:], budget)
        return prefix, suffix, dropped, cut

    def _assemble(
        self,
        prefix: list[int],
        body: list[int],
        suffix: list[int],
        dropped: int,
        prompt_cut: int,
        response_cut: int,
    ) -> Encoded:
        ids = (prefix + body + suffix)[: self.max_length]
        # Decoders score the last token that is not padding: a template's closing EOS that
        # doubles as the pad token would move that point, so it goes.
        while len(ids) > 1 and ids[-1] == self.tokenizer.pad_token_id:
            ids.pop()
        types = None
        if self.format == "pair":
            types = ([0] * len(prefix) + [1] * (len(body) + len(suffix)))[: len(ids)]
        return Encoded(ids, types, dropped, prompt_cut, response_cut)


@dataclass(frozen=True)
class PairExample:
    """One training pair, encoded: the loss' target, margin and weight travel with it."""

    chosen: Encoded
    rejected: Encoded
    target: float = 1.0
    margin: float = 0.0
    weight: float = 1.0

    @property
    def length(self) -> int:
        return max(len(self.chosen.input_ids), len(self.rejected.input_ids))


def encode_pairs(
    pairs: pl.DataFrame, encoder: SequenceEncoder
) -> tuple[list[PairExample], TruncationCounts]:
    """Encode ``reward.snapshot.TRAINING_PAIRS`` rows (prompt, prompt_messages, chosen,
    rejected, target, margin, weight), counting what truncation removed."""
    counts = TruncationCounts()
    examples = []
    for row in pairs.iter_rows(named=True):
        turns = prompt_turns(row["prompt"], row["prompt_messages"])
        chosen, rejected = encoder.encode_pair(turns, row["chosen"], row["rejected"])
        counts.add(chosen)
        counts.add(rejected)
        examples.append(PairExample(chosen, rejected, row["target"], row["margin"], row["weight"]))
    return examples, counts


def pad_sequences(
    sequences: Sequence[Encoded],
    pad_token_id: int,
    *,
    pad_to_multiple_of: int | None = None,
    token_types: bool = False,
) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence (rounded up to ``pad_to_multiple_of``).

    >>> batch = pad_sequences([Encoded([5, 6, 7]), Encoded([8])], pad_token_id=0)
    >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])
    """
    width = max(len(s.input_ids) for s in sequences)
    if pad_to_multiple_of:
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    types = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        n = len(sequence.input_ids)
        ids[row, :n] = torch.tensor(sequence.input_ids)
        mask[row, :n] = 1
        if sequence.token_type_ids is not None:
            types[row, :n] = torch.tensor(sequence.token_type_ids)
    batch = {"input_ids": ids, "attention_mask": mask}
    if token_types:
        batch["token_type_ids"] = types
    return batch


@dataclass
class PairCollator:
    """Chosen and rejected of every pair in one padded batch: rows ``0..n-1`` are the chosen
    sides, rows ``n..2n-1`` the rejected ones, so one forward pass scores both."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None
    token_types: bool = False

    def __call__(self, examples: Sequence[PairExample]) -> dict[str, torch.Tensor]:
        sequences = [e.chosen for e in examples] + [e.rejected for e in examples]
        batch = pad_sequences(
            sequences,
            self.pad_token_id,
            pad_to_multiple_of=self.pad_to_multiple_of,
            token_types=self.token_types,
        )
        for name in ("target", "margin", "weight"):
            batch[name] = torch.tensor([getattr(e, name) for e in examples], dtype=torch.float32)
        return batch


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, group_by_length: bool = True
) -> list[list[int]]:
    """Shuffled batches of indices; with ``group_by_length``, each batch holds similar lengths.

    As in Hugging Face's LengthGroupedSampler: shuffle, cut into mega-batches of 50 batches,
    sort each by length, split, shuffle the batch order, and put the longest batch first (so
    an out-of-memory error shows on the first step, not after an hour).
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    mega = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
    batches[0], batches[longest] = batches[longest], batches[0]
    return batches


Item = TypeVar("Item")


def rank_share(batch: Sequence[Item], rank: int, world: int) -> list[Item]:
    """Process ``rank``'s share of a global batch on ``world`` processes: every ``world``-th
    item from its rank. Every process cuts the same global batch, so the shares make up the
    batch a single process would take, and length-sorted batches give each similar lengths.

    >>> rank_share([10, 11, 12, 13, 14], 0, 2), rank_share([10, 11, 12, 13, 14], 1, 2)
    ([10, 12, 14], [11, 13])
    """
    return list(batch[rank::world])


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches for inference: longest first, so padding is almost nil.

    >>> sorted_batches([3, 9, 1, 7], 2)
    [[1, 3], [0, 2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
