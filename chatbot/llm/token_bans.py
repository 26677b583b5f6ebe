"""The tokens a batched answer may not write: the first tokens of banned words, the rest of a word once begun, the
tokens that begin a text, and every token of Chinese script (`BatchedContext` reads them from the model's
vocabulary, once)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any

from chatbot.llm.protocol import CHINESE_SCRIPT, LOWER_CASE_ONLY

_HAN = re.compile("[\u4e00-\u9fff]{2,}")
_HAN_RUN = re.compile("[\u4e00-\u9fff]+")
_LATIN = re.compile("[a-z][a-z -]{4,}")  # a word long enough to be cut into tokens ("heart warming" too)
# First tokens of longer words that are common words themselves: never banned for the longer word's sake.
_COMMON_HEADS = frozenset("heart family feel sweet light kid easy soft low high action real best true grand old "
                          "golden prize award oscar nail spine hand stop laugh".split())


class TokenBans:
    """The banned tokens of words, read from a llama.cpp model's vocabulary (a mixin: the class sets `llama`,
    `_lib`, `vocab` and `n_vocab`, and calls `_init_bans`)."""

    llama: Any
    _lib: Any
    vocab: Any
    n_vocab: int

    def _init_bans(self) -> None:
        """Empty caches: nothing is read from the vocabulary until a word is banned."""
        self._bans: dict[str, list[int]] = {}  # word -> its banned first tokens
        self._firsts: dict[str, int | None] = {}  # text -> its first token
        self._texts: list[str] | None = None  # every token's text, read on the first mark banned
        self._raw: list[bytes] = []  # every token's bytes (read with `_texts`)
        self._sorted: list[tuple[str, int]] | None = None  # (text, token), by text: the tokens that begin with a text
        self._keys: list[str] = []  # the texts of `_sorted`, for bisect
        self._tails: dict[str, list[tuple[str, int]]] = {}  # word -> (a begun piece, a token going on with it)
        self._pairs: dict[str, list[int]] | None = None  # two Chinese characters -> the tokens holding them

    def tail_bans(self, words: Sequence[str]) -> dict[str, list[int]]:
        """For each word, each way it can be begun and the tokens that would go on with it: "惊悚" is "惊" + "悚"
        and "heartwarming" " heart" + "warming", whose first pieces are too common to ban, and "讲述", one token,
        can also be written "讲" + "述"; so after a begun piece every token that goes on with the rest is banned
        (`ban_ids` bans the tokens that begin the word). A Latin word is begun after a space or a hyphen."""
        tails: dict[str, list[int]] = {}
        for word in dict.fromkeys(words):
            if word not in self._tails:
                plain = word.removeprefix(LOWER_CASE_ONLY)
                forms = {plain} if plain != word else {plain, plain.capitalize()}
                if han := _HAN.match(word):  # a word of the lexicon may be a pattern: its plain start
                    cuts = [(han.group(0)[:k], han.group(0)[k:]) for k in range(1, len(han.group(0)))]
                elif _LATIN.fullmatch(plain):
                    cuts = [(f" {w[:k]}", w[k:]) for w in forms for k in range(3, len(plain) - 1)]
                    if " " not in plain:  # "comedy-drama" is "-d" + "rama": begun after a hyphen too
                        cuts += [(f"-{plain[:k]}", plain[k:]) for k in range(1, len(plain) - 1)]
                else:
                    cuts = []
                shout = [(begun, rest.upper()) for begun, rest in cuts if rest.isascii()]  # "-rom" + "ANCE"
                self._tails[word] = [(begun, t) for begun, rest in cuts for t in self._going_on(rest)] + [
                    (begun, t) for begun, rest in shout for t in self._beginning_with(rest)]
            for begun, token in self._tails[word]:
                tails.setdefault(begun, []).append(token)
        return tails

    def _going_on(self, rest: str) -> list[int]:
        """The tokens that write the start of `rest`: those that begin with it ("讲述了" for "讲述"), those it begins
        with, and the first byte token of its first character. A whole word of a phrase's rest stays free (" the"
        after " for" of "for the kids": the phrase is begun further on, where its next word is banned)."""
        found = self._beginning_with(rest)
        for j in range(1, len(rest)):
            if rest[j] == " " and rest[:j].strip():
                continue
            k = bisect.bisect_left(self._keys, rest[:j])
            while k < len(self._keys) and self._keys[k] == rest[:j]:
                found.append(self._sorted[k][1])
                k += 1
        first = self._first_token(rest[:1])
        return found + ([first] if first is not None else [])

    def _beginning_with(self, text: str) -> list[int]:
        """The tokens whose text begins with `text` (a sorted index of the vocabulary, built once)."""
        if self._sorted is None:
            self._sorted = sorted((piece, t) for t, piece in enumerate(self._vocab_texts()) if piece)
            self._keys = [piece for piece, _ in self._sorted]
        lo, hi = bisect.bisect_left(self._keys, text), bisect.bisect_right(self._keys, text + "\U0010ffff")
        return [t for _, t in self._sorted[lo:hi]]

    def _first_token(self, text: str) -> int | None:
        """The first token of a text as the model writes it (cached)."""
        if text not in self._firsts:
            tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
            self._firsts[text] = tokens[0] if tokens else None
        return self._firsts[text]

    def ban_ids(self, words: Sequence[str]) -> Any:
        """The token ids that begin these words as the model writes them (numpy array; None for no words).

        A word is banned by the first token of " word", " Word", and, where the word is one token, "word" and
        "Word" (after a quote). A first token shorter than the word and common on its own (" heart" of
        "heartwarming", " night" of "nightmarish": under 60 % of the word) is kept, so that only the word is steered
        away from; a word written some other way is still the checker's to catch."""
        if not words:
            return None
        import numpy as np

        ids: set[int] = set()
        for word in words:
            ids.update(self._word_ids(word))
        return np.fromiter(sorted(ids), dtype=np.intp) if ids else None

    def _word_ids(self, word: str) -> list[int]:
        """The banned first tokens of one word (cached)."""
        if word in self._bans:
            return self._bans[word]
        if len(word) == 1 and not word.isalnum():  # a mark ("·" of a transliterated name): every token holding it
            self._bans[word] = self._tokens_with(word)
            return self._bans[word]
        if word == CHINESE_SCRIPT:
            self._bans[word] = self._chinese_tokens()
            return self._bans[word]
        found: list[int] = []
        key, word = word, word.removeprefix(LOWER_CASE_ONLY)  # marked: its capitalised forms stay free (a title's)
        lower = key != word
        if (han := _HAN_RUN.match(word)) is not None:  # "讲述": also "讲述了"; "甜": also "香甜", tokens of their own
            found += self._tokens_with(han.group(0))
        latin = word[:1].isascii()
        spaced = [" " + word, *([] if lower else [" " + word[:1].upper() + word[1:]])] if latin else [word]
        bare = [word, *([] if lower else [word[:1].upper() + word[1:]])] if latin else []
        for variant in spaced + bare:
            tokens = self.llama.tokenize(variant.encode("utf-8"), add_bos=False, special=False)
            if not tokens:
                continue
            if len(tokens) == 1:
                found.append(tokens[0])
            elif variant in spaced:
                head = self._piece(tokens[0]).decode("utf-8", errors="ignore").strip().lower()
                if len(head) >= max(2 if latin else 1, 0.6 * len(word)) and head not in _COMMON_HEADS:
                    found.append(tokens[0])
        self._bans[key] = found
        return found

    def _tokens_with(self, mark: str) -> list[int]:
        """Every token whose text holds this character or word (the vocabulary read once, ~150k pieces)."""
        if len(mark) == 2 and _HAN.fullmatch(mark):  # a note's every pair of characters is looked up: an index
            if self._pairs is None:
                self._pairs = {}
                for t, text in enumerate(self._vocab_texts()):
                    for run in _HAN.findall(text):
                        for pair in {run[i:i + 2] for i in range(len(run) - 1)}:
                            self._pairs.setdefault(pair, []).append(t)
            return self._pairs.get(mark, [])
        return [t for t, text in enumerate(self._vocab_texts()) if mark in text]

    def _chinese_tokens(self) -> list[int]:
        """Every token that writes a Chinese character or begins one (a lead byte E3-E9: U+3000-U+9FFF, the CJK
        marks, kana and ideographs), so that no Chinese can be begun; accented Latin letters stay."""
        self._vocab_texts()
        return [t for t, raw in enumerate(self._raw) if any(0xE3 <= b <= 0xE9 for b in raw)]

    def _vocab_texts(self) -> list[str]:
        """Every token's text (the vocabulary read once, ~150k pieces; a piece of a character reads as empty)."""
        if self._texts is None:
            self._raw = [self._piece(t) for t in range(self.n_vocab)]
            self._texts = [raw.decode("utf-8", errors="ignore") for raw in self._raw]
        return self._texts

    def _piece(self, token: int) -> bytes:
        """The bytes of one token (a Chinese character may span two tokens: the decoder joins them)."""
        import ctypes

        buf = ctypes.create_string_buffer(64)
        n = self._lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, False)
        return buf.raw[: max(n, 0)]
