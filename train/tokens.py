"""Tokenizer set-up: the Flamingo special tokens, and a tiny BPE tokenizer trained on the fly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

IMAGE = "<image>"
EOC = "<EOC>"


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int
    image: int
    eoc: int


def add_flamingo_tokens(tokenizer) -> SpecialIds:
    """Add `<image>` and `<EOC>` (and a pad token when missing); return the ids the loaders use.

    BOS/EOS come from the tokenizer; an LM without a BOS (OPT-style tokenizers have one, GPT-2
    uses `<|endoftext|>` for both) falls back to EOS.
    """
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE, EOC]})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    eos = tokenizer.eos_token_id
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else eos
    return SpecialIds(bos=bos, eos=eos, pad=tokenizer.pad_token_id,
                      image=tokenizer.convert_tokens_to_ids(IMAGE),
                      eoc=tokenizer.convert_tokens_to_ids(EOC))


def train_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer trained in-process (no download), as a PreTrainedTokenizerFast.

    Its own vocabulary is what a tiny random LM is sized to; `<image>` and `<EOC>` are added
    afterwards by `add_flamingo_tokens`, so they fall outside the LM's vocabulary as they would
    for a pretrained LM.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<BOS>", "<EOS>", "<PAD>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<BOS>", eos_token="<EOS>",
                                   pad_token="<PAD>")
