"""Word error rate, and the corpus it is measured on: Asterisk's recorded English prompts with the
transcripts the sound package ships. Used by tests/test_notify_transcribe.py and
tests/bench/bench_transcribe.py, so the test's bound and the benchmark's figure mean the same thing.

Rules:
- WER = (substitutions + deletions + insertions) / words in the reference, from a word-level
  Levenshtein alignment. It is 0 for a perfect text, 1 for no text at all, and can exceed 1 when an
  engine adds words that were never said.
- Both texts are normalised the same way before counting: lower case; stage directions in brackets
  or parentheses ("(simple tone sound plays)") dropped, since nothing says them; digits spelled out
  ("press 5" is heard, and recognised, as "press five"); hyphens split words; every other
  punctuation mark dropped except an apostrophe inside a word ("i'm", "user's").
"""

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path(
    "/usr/share/asterisk/sounds/en"
)  # Debian: a link to the chosen voice (en_US_f_Allison)
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_STAGE_DIRECTION = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def words(text: str) -> list[str]:
    """The normalised words of `text` (see the rules above)."""
    text = _STAGE_DIRECTION.sub(" ", text.lower()).replace("-", " ")
    text = re.sub(r"\d", lambda digit: f" {DIGITS[int(digit.group())]} ", text)
    return _WORD.findall(text)


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """The fewest substitutions, deletions and insertions that turn `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))  # distances from the empty reference prefix
    for i, said in enumerate(reference, 1):
        current = [i]
        for j, heard in enumerate(hypothesis, 1):
            current.append(
                min(
                    previous[j] + 1,  # `said` deleted
                    current[j - 1] + 1,  # `heard` inserted
                    previous[j - 1] + (said != heard),
                )
            )  # matched or substituted
        previous = current
    return previous[-1]


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """The corpus WER: all errors over all reference words (not a mean of per-text rates, which would
    weigh a one-word prompt like a twenty-word one)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references for {len(hypotheses)} hypotheses")
    pairs = [
        (words(reference), words(hypothesis))
        for reference, hypothesis in zip(references, hypotheses, strict=True)
    ]
    total = sum(len(reference) for reference, _ in pairs)
    if total == 0:
        raise ValueError("the references have no words")
    return sum(edit_distance(reference, hypothesis) for reference, hypothesis in pairs) / total


@dataclass(frozen=True)
class Prompt:
    name: str
    path: Path
    text: str


def transcripts(path: Path = TRANSCRIPTS) -> dict[str, str]:
    """The package's transcripts by prompt name (lines `name: text`; `;` starts a comment)."""
    found = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, colon, text = line.partition(":")
            if colon and not line.startswith(";") and text.strip():
                found[name.strip()] = text.strip()
    return found


def prompt_corpus(prefix: str = "vm-", sounds: Path = SOUNDS) -> list[Prompt]:
    """The prompts named `prefix*` that have both a WAV file and a transcript with words, by name."""
    return [
        Prompt(name, sounds / f"{name}.wav", text)
        for name, text in sorted(transcripts().items())
        if name.startswith(prefix) and (sounds / f"{name}.wav").is_file() and words(text)
    ]
