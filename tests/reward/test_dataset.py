"""Sequences, truncation and the pair collator against literal token lists.

Token ids are the bundled MiniLM WordPiece vocabulary: [CLS]=101, [SEP]=102, [PAD]=0,
"user"=5310, ":"=1024, "hello"=7592, "world"=2088.
"""

from __future__ import annotations

import polars as pl
import pytest
import torch
from transformers import PreTrainedTokenizerBase

from reward.dataset import (
    Encoded,
    PairCollator,
    PairExample,
    SequenceEncoder,
    TruncationCounts,
    encode_pairs,
    length_grouped_batches,
    prompt_turns,
    sorted_batches,
)

CLS, SEP, USER, COLON, HELLO, WORLD = 101, 102, 5310, 1024, 7592, 2088


def test_pair_layout_is_cls_prompt_sep_response_sep_with_token_types(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    encoded = SequenceEncoder(tokenizer, 64).encode([("user", "hello world")], "hello")
    assert encoded.input_ids == [CLS, USER, COLON, HELLO, WORLD, SEP, HELLO, SEP]
    assert encoded.token_type_ids == [0, 0, 0, 0, 0, 0, 1, 1]
    assert (encoded.turns_dropped, encoded.prompt_tokens_cut, encoded.response_tokens_cut) == (
        0,
        0,
        0,
    )


def test_oldest_turns_go_first_and_the_response_stays_whole(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    turns = [("user", "hello world"), ("assistant", "hello"), ("user", "world")]
    encoded = SequenceEncoder(tokenizer, 12).encode(turns, "hello world hello")
    # Dropping one turn would start on an assistant turn, so two go.
    assert encoded.input_ids == [CLS, USER, COLON, WORLD, SEP, HELLO, WORLD, HELLO, SEP]
    assert encoded.turns_dropped == 2
    assert encoded.response_tokens_cut == 0


def test_a_single_long_turn_keeps_its_end(tokenizer: PreTrainedTokenizerBase) -> None:
    encoded = SequenceEncoder(tokenizer, 8).encode(
        [("user", "hello world hello world hello world")], "hello"
    )
    assert encoded.input_ids == [CLS, HELLO, WORLD, HELLO, WORLD, SEP, HELLO, SEP]
    assert encoded.prompt_tokens_cut == 4


def test_a_response_longer_than_the_window_is_cut_at_its_end_and_counted(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    encoded = SequenceEncoder(tokenizer, 10).encode([("user", "hello")], " ".join(["world"] * 20))
    assert encoded.input_ids == [CLS, COLON, HELLO, SEP, *[WORLD] * 5, SEP]
    assert encoded.response_tokens_cut == 15
    assert encoded.prompt_tokens_cut == 1


def test_both_sides_of_a_pair_get_the_same_prompt(tokenizer: PreTrainedTokenizerBase) -> None:
    turns = [("user", "hello world"), ("assistant", "hello"), ("user", "world")]
    chosen, rejected = SequenceEncoder(tokenizer, 12).encode_pair(
        turns, "hello", "hello world hello"
    )
    assert chosen.input_ids == [CLS, USER, COLON, WORLD, SEP, HELLO, SEP]
    assert rejected.input_ids == [CLS, USER, COLON, WORLD, SEP, HELLO, WORLD, HELLO, SEP]
    assert chosen.turns_dropped == rejected.turns_dropped == 2


def test_chat_template_layout_renders_the_response_as_the_assistant_turn(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    templated = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    templated.chat_template = (
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }} {% endfor %}"
    )
    encoder = SequenceEncoder(templated, 64)
    assert encoder.format == "template"
    encoded = encoder.encode([("user", "hello")], "world")
    assert templated.decode(encoded.input_ids) == "[ user ] hello [ assistant ] world"
    assert encoded.token_type_ids is None


def test_plain_layout_labels_the_roles(tokenizer: PreTrainedTokenizerBase) -> None:
    encoded = SequenceEncoder(tokenizer, 64, format="plain").encode([("user", "hello")], "world")
    assert tokenizer.decode(encoded.input_ids) == "[CLS] user : hello assistant : world [SEP]"


def test_prompt_turns_reads_the_conversation_json() -> None:
    messages = '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]'
    assert prompt_turns("hi yo", messages) == [("user", "hi"), ("assistant", "yo")]
    assert prompt_turns("plain", None) == [("user", "plain")]


def test_encode_pairs_counts_what_truncation_removed(tokenizer: PreTrainedTokenizerBase) -> None:
    pairs = pl.DataFrame(
        {
            "prompt": ["hello", "hello world hello world hello world"],
            "prompt_messages": [None, None],
            "chosen": ["world", "hello"],
            "rejected": [" ".join(["world"] * 20), "world"],
            "target": [1.0, 0.5],
            "margin": [0.25, 0.0],
            "weight": [1.0, 2.0],
        }
    )
    examples, counts = encode_pairs(pairs, SequenceEncoder(tokenizer, 10))
    assert [e.target for e in examples] == [1.0, 0.5]
    assert counts == TruncationCounts(
        sequences=4, turns_dropped=0, sequences_with_turns_dropped=0, prompts_cut=4, responses_cut=1
    )


def test_collator_puts_chosen_rows_first_and_pads_to_the_longest() -> None:
    first = PairExample(Encoded([101, 7, 8, 102]), Encoded([101, 7, 102]), 1.0, 0.5, 1.0)
    second = PairExample(Encoded([101, 9, 102]), Encoded([101, 9, 10, 11, 102]), 0.5, 0.0, 2.0)
    batch = PairCollator(pad_token_id=0)([first, second])
    assert batch["input_ids"].tolist() == [
        [101, 7, 8, 102, 0],
        [101, 9, 102, 0, 0],
        [101, 7, 102, 0, 0],
        [101, 9, 10, 11, 102],
    ]
    assert batch["attention_mask"].tolist() == [
        [1, 1, 1, 1, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1],
    ]
    assert batch["target"].tolist() == [1.0, 0.5]
    assert batch["margin"].tolist() == [0.5, 0.0]
    assert batch["weight"].tolist() == [1.0, 2.0]
    assert "token_type_ids" not in batch


def test_collator_carries_token_types_and_rounds_the_width_up() -> None:
    example = PairExample(
        Encoded([101, 7, 102, 8, 102], [0, 0, 0, 1, 1]), Encoded([101, 102], [0, 0])
    )
    batch = PairCollator(pad_token_id=0, pad_to_multiple_of=8, token_types=True)([example])
    assert batch["input_ids"].shape == (2, 8)
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 1, 1, 0, 0, 0], [0] * 8]
    assert batch["input_ids"].dtype == torch.long


def test_length_grouped_batches_cover_every_index_once_and_group_lengths() -> None:
    lengths = [5, 50, 6, 51, 7, 52, 8, 53]
    batches = length_grouped_batches(lengths, 2, seed=0)
    assert sorted(i for batch in batches for i in batch) == list(range(8))
    assert batches[0] == [7, 5]  # the longest batch comes first
    for batch in batches:
        assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 2
    assert length_grouped_batches(lengths, 2, seed=0) == batches  # seeded


def test_sorted_batches_run_longest_first() -> None:
    assert sorted_batches([3, 9, 1, 7], 2) == [[1, 3], [0, 2]]


@pytest.mark.parametrize("group", [True, False])
def test_batches_shuffle_with_the_seed(group: bool) -> None:
    lengths = list(range(40))
    assert length_grouped_batches(
        lengths, 4, seed=1, group_by_length=group
    ) != length_grouped_batches(lengths, 4, seed=2, group_by_length=group)
