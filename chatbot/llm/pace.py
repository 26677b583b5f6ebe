"""How fast batched decoding runs on this machine, learnt while it works, so a turn asks for no more notes than fit.

Each decoding step of `BatchedContext` is timed with what it did: the answers it advanced and the prompt tokens it
read. A least-squares fit (recent steps weigh more) of `seconds = base + per_answer * answers + per_token * tokens`
then predicts, step by step as `BatchedContext._step` schedules them, how long a round of notes will take. On a
machine at 6 tokens/s five notes took ~50 s and ran out of a 30 s budget, 140 of 147 of them templates; two or
three fit.
"""

from __future__ import annotations

from collections.abc import Sequence

FORGET = 0.995  # each step's weight shrinks by this per later step (half-weight after ~140 steps, two or three turns)
PRIOR = 1e-3  # a small ridge weight, so the fit exists before every kind of step has been seen


class DecodePace:
    """A running fit of a decoding step's seconds to the answers it advances and the prompt tokens it reads."""

    def __init__(self) -> None:
        """An empty fit: `round_seconds` is None until answers have been written."""
        self._xtx = [[PRIOR if i == j else 0.0 for j in range(3)] for i in range(3)]
        self._xty = [0.0, 0.0, 0.0]
        self.answer_steps = 0  # steps that advanced at least one answer (the fit needs some)
        self.tokens_per_answer = 0.0  # a running mean of the tokens an answer took to its end

    def add(self, answers: int, tokens: int, seconds: float) -> None:
        """Record one step: `answers` advanced by a token each, `tokens` prompt tokens read, in `seconds`."""
        x = (1.0, float(answers), float(tokens))
        for i in range(3):
            self._xty[i] = self._xty[i] * FORGET + x[i] * seconds
            for j in range(3):
                self._xtx[i][j] = self._xtx[i][j] * FORGET + x[i] * x[j]
        self.answer_steps += answers > 0

    def add_answer(self, tokens: int) -> None:
        """Record the length of an answer that ended, in tokens."""
        self.tokens_per_answer = tokens if not self.tokens_per_answer else 0.8 * self.tokens_per_answer + 0.2 * tokens

    def coefficients(self) -> tuple[float, float, float] | None:
        """(base, per answer, per prompt token) seconds of a step, or None before enough steps were seen."""
        if self.answer_steps < 4:
            return None
        solved = _solve3(self._xtx, self._xty)
        if solved is None:
            return None
        base, per_answer, per_token = solved
        return max(base, 0.0), max(per_answer, 0.0), max(per_token, 0.0)

    def round_seconds(self, prompt_tokens: Sequence[int], answer_tokens: float, prompt_run: int,
                      batch_tokens: int, prefix_tokens: int = 0) -> float | None:
        """The seconds to write an answer of `answer_tokens` to each prompt (`prompt_tokens`: what each has to read
        past the shared prefix, `prefix_tokens` of which are read first), scheduled as `BatchedContext._step` does:
        prompts read in runs until the first answer starts, then a token of every answer plus `prompt_run` prompt
        tokens per step. None before the fit exists."""
        coef = self.coefficients()
        if coef is None:
            return None
        base, per_answer, per_token = coef
        seconds = sum(base + per_token * min(batch_tokens, prefix_tokens - k)
                      for k in range(0, max(prefix_tokens, 0), batch_tokens))
        queue, writing, steps_written = [max(int(n), 1) for n in prompt_tokens], [], 0
        length = max(int(round(answer_tokens)), 1)
        while queue or writing:
            room = min(batch_tokens - len(writing), (prompt_run if steps_written > 3 else 0) if writing else batch_tokens)
            read, started = 0, 0
            while queue and room > 0:
                take = min(queue[0], room)
                queue[0] -= take
                room -= take
                read += take
                if queue[0] == 0:
                    queue.pop(0)
                    started += 1
                    if not writing:
                        break  # the first answer starts as soon as its own prompt is read
            seconds += base + per_answer * len(writing) + per_token * read
            steps_written += bool(writing)
            writing = [t - 1 for t in writing if t > 1] + [length] * started
        return seconds


def _solve3(a: list[list[float]], b: list[float]) -> tuple[float, float, float] | None:
    """x with a·x = b for a 3×3 system (Gaussian elimination with pivoting), None when singular."""
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(3):
        pivot = max(range(col, 3), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            return None
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(3):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [v - f * w for v, w in zip(m[r], m[col])]
    return m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2]
