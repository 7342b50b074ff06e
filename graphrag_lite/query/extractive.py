"""Answers without an LLM: the context's most relevant sentences (or report findings), each cited.

Score = embedding similarity to the question + coverage of the question's content words + a small prior
for where the evidence ranked in the context. Lexical coverage picks the candidates first (so only a few
dozen sentences are embedded), near-duplicates are dropped, and the answer is labelled as extractive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphrag_lite.index.reports.sentences import split_sentences as index_sentences
from graphrag_lite.models.base import Embedder
from graphrag_lite.query.names import STOPWORDS

EXTRACTIVE_LABEL = "Extractive answer (no LLM configured)"
NO_EVIDENCE = (
    f"{EXTRACTIVE_LABEL}: nothing in the index matches this question well enough to quote. "
    "Try naming the people, places or things you are asking about."
)
_TERM = re.compile(r"[^\W_]+")
# A "sentence" ending like this was cut at an abbreviation: "( c.", "ca.", "O.F.M.", "fl.".
_OPEN_END = re.compile(r"(?:\b(?:c|ca|fl|b|d|approx|est|ed|eds|vol|pp|no)\.|\b[A-Z](?:\.[A-Z])+\.)$")
MIN_WORDS = 4
MAX_CHARS = 600
COVERAGE_WEIGHT = 0.6
PRIOR_WEIGHT = 0.1
DUPLICATE_JACCARD = 0.7
MIN_SCORE = 0.25


@dataclass(frozen=True)
class Evidence:
    """A candidate quote: its text, the citation tag it carries ("Sources (3)"), a rank prior in 0..1 and
    the id of the record it comes from."""

    text: str
    cite: str
    prior: float = 0.0
    record_id: str = ""


@dataclass(frozen=True)
class ScoredEvidence:
    evidence: Evidence
    score: float
    similarity: float
    coverage: float


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage ("Mr.", initials and "c. 1180" do not end one; table markup is flattened)."""
    out: list[str] = []
    carry = ""
    for sentence in index_sentences(text, min_words=1, max_chars=MAX_CHARS):
        sentence = (carry + " " + sentence).strip() if carry else sentence
        carry = sentence if _OPEN_END.search(sentence) else ""
        if carry:
            continue
        sentence = sentence.strip(" #*-|")
        if len(sentence.split()) >= MIN_WORDS:
            out.append(sentence)
    if carry and len(carry.split()) >= MIN_WORDS:
        out.append(carry.strip(" #*-|"))
    return out


def terms(text: str) -> set[str]:
    """Content words, lower-cased, with a light plural/possessive strip ("fathers" ~ "father")."""
    found = set()
    for word in _TERM.findall(text.lower()):
        if word.upper() in STOPWORDS or len(word) < 2:
            continue
        found.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return found


def coverage(query_terms: set[str], text: str) -> float:
    return len(query_terms & terms(text)) / len(query_terms) if query_terms else 0.0


async def rank_evidence(
    query: str,
    evidence: Sequence[Evidence],
    embedder: Embedder,
    *,
    top_n: int = 5,
    max_candidates: int = 64,
) -> list[ScoredEvidence]:
    """The best ``top_n`` pieces of evidence, near-duplicates removed, best first."""
    if not evidence:
        return []
    query_terms = terms(query)
    lexical = [(coverage(query_terms, e.text), e) for e in evidence]
    lexical.sort(key=lambda p: -(p[0] + PRIOR_WEIGHT * p[1].prior))
    candidates = lexical[:max_candidates]
    vectors = np.asarray(await embedder.embed([query, *(e.text for _, e in candidates)]), dtype=np.float32)
    similarities = vectors[1:] @ vectors[0]
    scored = [
        ScoredEvidence(e, float(sim) + COVERAGE_WEIGHT * cov + PRIOR_WEIGHT * e.prior, float(sim), cov)
        for (cov, e), sim in zip(candidates, similarities, strict=True)
    ]
    scored.sort(key=lambda s: -s.score)
    picked: list[ScoredEvidence] = []
    picked_terms: list[set[str]] = []
    for item in scored:
        if len(picked) >= top_n:
            break
        words = terms(item.evidence.text)
        if any(_jaccard(words, other) >= DUPLICATE_JACCARD for other in picked_terms):
            continue
        picked.append(item)
        picked_terms.append(words)
    return picked


def format_extractive(picked: Sequence[ScoredEvidence], what: str = "passages") -> str:
    """The labelled answer: one cited quote per line, or an honest 'nothing matches'."""
    relevant = [p for p in picked if p.score >= MIN_SCORE or p.coverage > 0]
    if not relevant:
        return NO_EVIDENCE
    lines = [f"{EXTRACTIVE_LABEL}: the {what} of the index that best match the question.", ""]
    lines += [f"- {p.evidence.text} [Data: {p.evidence.cite}]" for p in relevant]
    return "\n".join(lines)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
