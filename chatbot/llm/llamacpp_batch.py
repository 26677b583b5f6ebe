"""Several answers written at once in one llama.cpp context (batched decoding), for the notes of one answer.

One note per call keeps each note about its own item (given five films in one prompt the 1.5B copied one plot
into four notes), but five calls one after another cost five times the tokens' time. Here the prompts share one
llama.cpp context with a sequence each: the prefix they share (the notes prompt's fixed part) is read once and
kept in a sequence of its own between calls, each prompt's own rest is read in one batch, and then every step
decodes one token of every unfinished answer together. On CPU a step of five tokens costs far less than five
steps of one (the weights are read once per step), which is what `tastebud bench notes-parallel` measures.

Each answer is greedy and constrained by its own JSON-schema grammar (`GreedyGrammarSampler`), as a single
call of `LlamaCppChatModel` would be; its text comes back piece by piece as `(answer index, text)`. What every
answer to its schema begins with (`{"1":"` of a note) is read with its prompt and taken into its grammar instead of
written a token a step, and an answer ends as its JSON object closes, without a step for the end-of-text token:
four of a note's ~28 steps, which on 2 cores run ~0.2 s each with five notes at once.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatbot.llm.pace import DecodePace
from chatbot.llm.token_bans import TokenBans
from retrieval.errors import LLMError, ModelUnavailable

_CJK_ANY = re.compile("[\u3400-\u9fff]")
BATCH_TOKENS = 256  # tokens per llama_decode while reading prompts (the deadline is checked between them)
PROMPT_RUN = 128  # prompt tokens read beside the answers being written, per step (a setting: bench turn whole reply
# p50 14.6 s at 12, 12.5 s at 32, 11.0 s at 128; first note words 1.5 s at each)


@dataclass
class _Answer:
    """One answer being written: its sequence, prompt, grammar, position and what it has written."""

    seq: int
    prompt: list[int]
    sampler: Any  # GreedyGrammarSampler, or None for free text
    banned: Any = None  # token ids it may not write (numpy array), or None
    tails: dict[str, list[int]] = field(default_factory=dict)  # text -> the tokens it may not write right after it
    pos: int = 0  # the position of the next token in its sequence
    index: int = -1  # its place among the call's answers
    shared: int = 0  # the prompt tokens its sequence shares with the prefix sequence (its cells are its own past it)
    blank: frozenset[str] = frozenset()  # the names (whole phrases) the distinct check blanks in it (its item's own)
    pending: int | None = None  # the token sampled last, not yet decoded
    n_out: int = 0
    text: str = ""  # what it has written so far (its lead included)
    lead: str = ""  # what it was given to begin with, read with its prompt (given as its first piece's start)
    done: bool = False
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))


class _Ctx:
    """What `GreedyGrammarSampler.sample` reads: an object whose `ctx` is the llama.cpp context pointer."""

    def __init__(self, ctx: Any) -> None:
        """Wrap a raw context pointer."""
        self.ctx = ctx


class BatchedContext(TokenBans):
    """A llama.cpp context of its own over a loaded model's weights, writing up to `n_seq` answers at once."""

    def __init__(self, llama: Any, n_seq: int, n_ctx: int, n_threads: int, prompt_run: int = PROMPT_RUN) -> None:
        """A context for `n_seq` answers plus one sequence holding the shared prompt prefix (llama: a loaded Llama)."""
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._lib = llama_cpp
        self.llama = llama
        self.n_seq = n_seq
        self.prompt_run = prompt_run
        self.prefix_seq = n_seq  # the last sequence id keeps the shared prefix between calls
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = BATCH_TOKENS
        params.n_ubatch = BATCH_TOKENS
        params.n_seq_max = n_seq + 1
        params.kv_unified = True  # the sequences share the prefix's cells instead of a copy each
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not ctx:
            raise ModelUnavailable("llama.cpp could not make a context for writing several answers at once")
        self.ctx = ctx
        self._ctx = _Ctx(ctx)
        self.mem = llama_cpp.llama_get_memory(ctx)
        self.batch = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, 1)
        self.vocab = llama._model.vocab
        self.n_vocab = llama.n_vocab()
        self.n_ctx = n_ctx
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelUnavailable("the model file has no chat template: it cannot write several answers at once")
        eos, bos = llama.token_eos(), llama.token_bos()
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )  # what llama-cpp-python's own chat completion formats with for this model
        self.prefix: list[int] = []  # the tokens the prefix sequence holds
        self.lock = threading.Lock()
        self.work = {"prompt_tokens": 0, "gen_tokens": 0}  # running totals, for `usage`
        self.pace = DecodePace()  # how fast steps run here (`round_seconds`)
        self._init_bans()
        self._distinct: list[str] | None = None  # this call's `distinct` texts (None: answers may read alike)
        self._distinct_blank: list[frozenset[str]] = []  # the names each `distinct` text blanks (whole phrases)
        self._answers: list[_Answer] = []  # the answers being written

    # ------------------------------------------------------------------------------------------------ public
    def tokens(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The prompt tokens of chat messages (role/content dicts), formatted as the model's chat template says."""
        result = self.formatter(messages=list(messages))
        return self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def prefill(self, messages: Sequence[dict[str, str]]) -> int:
        """Read a prompt into the prefix sequence (its fixed part is then shared by later calls), and the
        vocabulary's texts (what banned words are found by, ~1 s once); tokens read."""
        with self.lock:
            self._going_on("x")
            return self._keep_prefix(self.tokens(messages), time.monotonic() + 600.0)

    def generate(
        self,
        prompts: Sequence[Sequence[dict[str, str]]],
        schemas: Sequence[dict[str, Any] | None],
        max_tokens: int,
        timeout_s: float,
        usage: dict[str, Any] | None = None,
        avoid: Sequence[Sequence[str]] | None = None,
        distinct: Sequence[str] | None = None,
        blank: Sequence[Sequence[str]] = (),
        more: Callable[[], list[tuple[Any, dict[str, Any] | None, Sequence[str], Sequence[str]]]] | None = None,
    ) -> Iterator[tuple[int, str]]:
        """Write an answer to every prompt at once, `n_seq` at a time: (prompt index, text piece) as they come;
        `more` (prompts no more than `n_seq`): asked between pieces for prompts to add, (messages, schema, avoid,
        blank) each, written in a sequence an ended answer frees, beside the others (a failed note rewritten while the
        rest are still written), their indexes going on from the last prompt's;
        `avoid`: per prompt, words its answer may not start (their first token is never sampled); `distinct` (a
        list, maybe empty, of texts written before): no answer continues its last words as another answer or one
        of these texts did (`chatbot.llm.distinct`; `blank`: the names each blanks as phrases, its item's own, a list
        per prompt then per `distinct` text), so that none shares a run of four words with another.

        LLMError at the time limit (the pieces already yielded stand) or when llama.cpp fails."""
        avoid = list(avoid) if avoid is not None else [()] * len(prompts)
        started = time.monotonic()
        deadline = started + timeout_s
        usage = usage if usage is not None else {}
        with self.lock:
            self._distinct = list(distinct) if distinct is not None else None  # this call's, under the lock
            blanks = [frozenset(b) for b in blank] + [frozenset()] * max(len(prompts) - len(blank), 0)
            self._distinct_blank = blanks[len(prompts):]
            before = dict(self.work)
            try:
                for first in range(0, len(prompts), self.n_seq):
                    wave = range(first, min(first + self.n_seq, len(prompts)))
                    adding = more if len(prompts) <= self.n_seq else None
                    for k, text in self._wave([prompts[i] for i in wave], [schemas[i] for i in wave], max_tokens,
                                              deadline, timeout_s, usage, started, [avoid[i] for i in wave], adding,
                                              [blanks[i] for i in wave]):
                        yield wave[k] if k < len(wave) else k, text
            finally:
                usage.update({
                    "prompt_eval_tokens": self.work["prompt_tokens"] - before["prompt_tokens"],
                    "gen_tokens": self.work["gen_tokens"] - before["gen_tokens"],
                    "elapsed_s": round(time.monotonic() - started, 3),
                })

    def round_seconds(self, prompts: Sequence[Sequence[dict[str, str]]], max_tokens: int) -> float | None:
        """The seconds `generate` should take to answer all these prompts at once on this machine (`DecodePace`);
        None before this context has written answers."""
        if not prompts or len(prompts) > self.n_seq:
            return None
        token_lists = [self.tokens(p) for p in prompts]
        shared = _common_prefix(token_lists)[: min(len(t) for t in token_lists) - 1]
        held = len(_common_prefix([self.prefix, shared])) if self.prefix else 0
        length = min(self.pace.tokens_per_answer or 0.75 * max_tokens, max_tokens)  # a guess until answers end
        return self.pace.round_seconds([len(t) - len(shared) for t in token_lists], length, self.prompt_run,
                                       BATCH_TOKENS, len(shared) - held)

    def measure(self, messages: Sequence[dict[str, str]]) -> None:
        """Write a few tokens to a prompt, alone and three at once, so that `round_seconds` knows this machine
        before the first turn (a few seconds, once)."""
        if self.pace.coefficients() is not None:
            return
        for n in (1, 3):
            for _ in self.generate([messages] * n, [None] * n, 6, 60.0):
                pass
        self.pace.tokens_per_answer = 0.0  # these answers were cut short: not what a note takes

    def close(self) -> None:
        """Free the context and its batch (the model's weights stay with their Llama)."""
        if self.ctx:
            self._lib.llama_batch_free(self.batch)
            self._lib.llama_free(self.ctx)
            self.ctx = None

    # ------------------------------------------------------------------------------------------------ steps
    def _wave(
        self,
        prompts: Sequence[Sequence[dict[str, str]]],
        schemas: Sequence[dict[str, Any] | None],
        max_tokens: int,
        deadline: float,
        timeout_s: float,
        usage: dict[str, Any],
        started: float,
        avoid: Sequence[Sequence[str]],
        more: Callable[[], list[Any]] | None = None,
        blanks: Sequence[frozenset[str]] = (),
    ) -> Iterator[tuple[int, str]]:
        """Up to `n_seq` answers at once: the shared prefix, then steps of one token of each answer being written
        plus a run of the prompts still to read (and of those `more` adds, each in a sequence an ended one frees)."""
        answers = [self._answer(k, k, p, s, words, own)
                   for k, (p, s, words, own) in enumerate(zip(prompts, schemas, avoid, blanks))]
        self._answers = answers
        waiting: deque[Any] = deque()  # added prompts waiting for a free sequence
        try:
            queue = self._start(answers, max_tokens, deadline)
            writing: list[_Answer] = []
            spoke = False  # no prompt is read beside the answers until the first words are out
            while True:
                if not (queue or writing or waiting):
                    if more is None:
                        break
                    yield answers[0].index, ""  # twice: once the second is taken, the reader has read every piece
                    yield answers[0].index, ""  # (it is a piece behind) and asked for what it will
                    waiting.extend(self._answer(-1, -1, *added) for added in more())
                    self._join(answers, queue, waiting, max_tokens)
                    if not queue:
                        break
                if time.monotonic() > deadline:
                    raise _timeout(timeout_s, sum(a.n_out for a in answers))
                step_started = time.monotonic()
                steps = self._step(writing, queue, spoke)
                texts = [self._next(a, j, max_tokens) if wants else "" for j, (a, wants) in enumerate(steps)]
                self.pace.add(len(writing), len(steps) - len(writing), time.monotonic() - step_started)
                for (a, _), text in zip(steps, texts):
                    if text:
                        usage.setdefault("first_token_s", round(time.monotonic() - started, 3))
                        spoke = spoke or any(ch.isalpha() for ch in text)  # words, not the JSON around them
                        yield a.index, text
                waiting.extend(self._answer(-1, -1, *added) for added in (more() if more is not None else ()))
                self._join(answers, queue, waiting, max_tokens)
                writing = [a for a in answers if a.pending is not None and not a.done]
        finally:
            usage["output_tokens"] = usage.get("output_tokens", 0) + sum(a.n_out for a in answers)
            for a in [*answers, *waiting]:
                if a.seq >= 0:
                    self._lib.llama_memory_seq_rm(self.mem, a.seq, -1, -1)
                if a.sampler is not None:
                    a.sampler.close()

    def _answer(self, index: int, seq: int, prompt: Sequence[dict[str, str]], schema: dict[str, Any] | None,
                words: Sequence[str], blank: Iterable[str] = ()) -> _Answer:
        """A new answer to a prompt (its tokens, grammar, banned words and own names) in sequence `seq`."""
        sampler = self._sampler(schema)
        lead, lead_tokens, sampler = self._lead(schema, sampler)
        return _Answer(seq=seq, prompt=self.tokens(prompt) + lead_tokens, index=index, sampler=sampler, lead=lead,
                       banned=self.ban_ids(words), tails=self.tail_bans(words), blank=frozenset(blank))

    def _lead(self, schema: dict[str, Any] | None, sampler: Any) -> tuple[str, list[int], Any]:
        """The text every answer fitting `schema` begins with (`json_lead`) and its tokens, taken into the sampler's
        grammar; ("", [], a fresh sampler) when there is none or the grammar would not take it."""
        text = json_lead(schema)
        if not text or sampler is None:
            return "", [], sampler
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        for token in tokens:
            if not sampler.allows(token):
                sampler.close()
                return "", [], self._sampler(schema)
            sampler.accept(token)
        return text, tokens, sampler

    def _join(self, answers: list[_Answer], queue: deque[tuple[_Answer, int, bool]], waiting: deque[Any],
              max_tokens: int) -> None:
        """Start the waiting prompts, oldest first, in the sequences ended answers free (while the context has room
        for them): each gets the prefix it shares with the kept one, the rest of its prompt queued to be read."""
        while waiting:
            busy = {a.seq for a in answers if not a.done}
            free = [seq for seq in range(self.n_seq) if seq not in busy]
            a = waiting[0]
            a.shared = min(len(_common_prefix([self.prefix, a.prompt])), len(a.prompt) - 1)
            holders = {h.seq: h for h in answers}  # the last answer of each sequence holds its cells
            cells = len(self.prefix) + sum(len(h.prompt) - h.shared + max_tokens for h in [*holders.values(), a]
                                           if not free or h.seq != free[0])
            if not free or cells > self.n_ctx:
                return  # the next step may free one
            waiting.popleft()
            a.seq, a.index, a.pos = free[0], len(answers), a.shared
            self._lib.llama_memory_seq_rm(self.mem, a.seq, -1, -1)
            self._lib.llama_memory_seq_cp(self.mem, self.prefix_seq, a.seq, 0, a.shared)
            queue.extend((a, t, j == len(a.prompt) - a.shared - 1) for j, t in enumerate(a.prompt[a.shared:]))
            answers.append(a)

    def _start(self, answers: list[_Answer], max_tokens: int, deadline: float) -> deque[tuple[_Answer, int, bool]]:
        """Give every answer the shared prefix (read once, kept in the prefix sequence); the prompt tokens each
        still has to read, in order, the last of each marked."""
        lib = self._lib
        shared = _common_prefix([a.prompt for a in answers])
        shared = shared[: min(len(a.prompt) for a in answers) - 1]  # each sequence reads at least one token
        need = len(shared) + sum(len(a.prompt) - len(shared) + max_tokens for a in answers)
        if need > self.n_ctx:
            raise LLMError(f"these prompts and answers need {need} tokens, more than the context's {self.n_ctx}")
        self._keep_prefix(shared, deadline)
        for a in answers:
            lib.llama_memory_seq_rm(self.mem, a.seq, -1, -1)
            lib.llama_memory_seq_cp(self.mem, self.prefix_seq, a.seq, 0, len(shared))
            a.shared = len(shared)
            a.pos = len(shared)
        return deque((a, t, j == len(a.prompt) - len(shared) - 1)
                     for a in answers for j, t in enumerate(a.prompt[len(shared):]))

    def _step(self, writing: list[_Answer], queue: deque[tuple[_Answer, int, bool]],
              spoke: bool) -> list[tuple[_Answer, bool]]:
        """Decode one step (continuous batching): the next token of every answer being written plus a run of the
        prompt tokens still to read, so the first answer starts as soon as its own prompt is read (reading all five
        first cost seconds before the first word) and the others join as theirs are; (answer, has logits) per slot."""
        steps: list[tuple[_Answer, bool]] = []
        for a in writing:
            self._put(len(steps), a.pending, a.pos, a.seq, True)
            a.pos += 1
            steps.append((a, True))
        room = min(BATCH_TOKENS - len(steps), (self.prompt_run if spoke else 0) if writing else BATCH_TOKENS)
        while queue and room > 0:
            a, token, last = queue.popleft()
            self._put(len(steps), token, a.pos, a.seq, last)
            a.pos += 1
            steps.append((a, last))
            room -= 1
            if last and not writing:
                break  # the first answer starts writing as soon as its own prompt is read
        self._decode(len(steps))
        self.work["gen_tokens"] += len(writing)
        self.work["prompt_tokens"] += len(steps) - len(writing)
        return steps

    def _next(self, a: _Answer, j: int, max_tokens: int) -> str:
        """Sample answer a's next token from batch slot j; the text it adds ("" at its end, or mid-character)."""
        a.pending = self._sample(a, j)
        if bool(self._lib.llama_vocab_is_eog(self.vocab, a.pending)) or a.n_out >= max_tokens:
            a.done = True
            self.pace.add_answer(a.n_out)
            return a.decoder.decode(b"", final=True)
        a.n_out += 1
        text = (a.lead if a.n_out == 1 else "") + a.decoder.decode(self._piece(a.pending))
        a.text += text
        if a.sampler is not None and "}" in text and _closed(a.text):  # all the grammar allows now is its end
            a.done = True
            self.pace.add_answer(a.n_out)
        return text

    def _keep_prefix(self, tokens: list[int], deadline: float) -> int:
        """Make the prefix sequence hold exactly `tokens`, reading only what it does not hold yet; tokens read."""
        lib = self._lib
        kept = len(_common_prefix([self.prefix, tokens])) if self.prefix else 0
        lib.llama_memory_seq_rm(self.mem, self.prefix_seq, kept, -1)
        self.prefix = tokens[:kept]
        todo = list(enumerate(tokens))[kept:]
        for chunk in _chunks(todo, BATCH_TOKENS):
            if time.monotonic() > deadline:
                raise LLMError("the notes prompt could not be read in time")
            for j, (pos, token) in enumerate(chunk):
                self._put(j, token, pos, self.prefix_seq, False)
            step_started = time.monotonic()
            self._decode(len(chunk))
            self.pace.add(0, len(chunk), time.monotonic() - step_started)
            self.prefix = tokens[: chunk[-1][0] + 1]
            self.work["prompt_tokens"] += len(chunk)
        return len(todo)

    def _put(self, j: int, token: int, pos: int, seq: int, logits: bool) -> None:
        """Place one token in the batch at slot j."""
        b = self.batch
        b.token[j] = token
        b.pos[j] = pos
        b.n_seq_id[j] = 1
        b.seq_id[j][0] = seq
        b.logits[j] = logits

    def _decode(self, n: int) -> None:
        """Decode the first n tokens of the batch (LLMError when llama.cpp cannot)."""
        self.batch.n_tokens = n
        status = self._lib.llama_decode(self.ctx, self.batch)
        if status != 0:
            raise LLMError(f"the local language model failed: llama_decode returned {status}")

    def _sample(self, a: _Answer, j: int) -> int:
        """The next token of answer `a` from the logits of batch slot j (greedy, under its grammar if any)."""
        banned = self._banned_now(a)
        if a.sampler is not None:
            return a.sampler.sample(self._ctx, j, banned)
        import numpy as np

        logits = np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self.ctx, j), shape=(self.n_vocab,))
        if banned is not None:
            logits = logits.copy()
            logits[banned] = -np.inf
        return int(np.argmax(logits))

    def _banned_now(self, a: _Answer) -> Any:
        """Answer a's banned tokens at this step: its own, the rest of a banned word it has begun ("悚" after "惊",
        "warming" after " heart"), and (`distinct`) each word it has said already (`said_words`) and the first tokens
        of what another answer, or a itself earlier, wrote after the words a ends with (a note once said "浪漫的战争片，"
        twenty times; Chinese: every token that would complete a run of six characters another answer has)."""
        now = [token for begun, tokens in a.tails.items() if a.text.endswith(begun) for token in tokens]
        if self._distinct is not None:
            from chatbot.llm.distinct import echo_continuations, said_words

            said = said_words(a.text, a.blank)  # a word said once is not said again ("a cozy, funny, cozy story")
            now += [token for word in said for token in self._word_ids(word)]
            now += [t for begun, tokens in self.tail_bans(said).items() if a.text.endswith(begun) for t in tokens]

            others = [b for b in self._answers if b is not a] + [a]  # its own words too: no phrase said twice
            texts, blanks = [b.text for b in others] + self._distinct, [b.blank for b in others] + self._distinct_blank
            for c in echo_continuations(a.text, texts, a.blank, blanks):  # Chinese: every token that begins with it
                chinese = bool(_CJK_ANY.search(c))
                now += (self._beginning_with(c) if chinese else []) + [
                    t for t in [self._first_token(c)] if t is not None and (len(c) == 1 or not chinese)]
        if not now:
            return a.banned
        import numpy as np

        ids = np.fromiter(now, dtype=np.intp)
        return ids if a.banned is None else np.concatenate([a.banned, ids])

    def _sampler(self, schema: dict[str, Any] | None) -> Any:
        """A greedy grammar sampler for answers fitting `schema` (None: free text)."""
        if schema is None:
            return None
        from llama_cpp.llama_chat_format import _grammar_for_response_format

        from chatbot.llm.grammar_sampler import GreedyGrammarSampler

        grammar = _grammar_for_response_format({"type": "json_object", "schema": schema})
        return GreedyGrammarSampler(self.vocab, grammar, self.n_vocab)


def json_lead(schema: dict[str, Any] | None) -> str:
    """What every compact JSON answer to an object schema begins with when its first property is a required string
    (`{"1":"`), else ""."""
    properties = (schema or {}).get("properties") or {}
    if (schema or {}).get("type") != "object" or not properties:
        return ""
    first = next(iter(properties))
    if first not in (schema or {}).get("required", ()) or properties[first].get("type") != "string":
        return ""
    return "{" + json.dumps(first, ensure_ascii=False) + ':"'


def _closed(text: str) -> bool:
    """True when the text is a whole JSON value (an answer whose object has closed)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _common_prefix(lists: Sequence[Sequence[int]]) -> list[int]:
    """The longest run of tokens that every list starts with."""
    if not lists:
        return []
    first = lists[0]
    n = min(len(x) for x in lists)
    for i in range(n):
        if any(x[i] != first[i] for x in lists[1:]):
            return list(first[:i])
    return list(first[:n])


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """The items in runs of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _timeout(timeout_s: float, n_out: int) -> LLMError:
    """The time-limit error of a batched call."""
    from chatbot.llm.protocol import timeout_error

    return timeout_error(timeout_s, n_out)
