"""DRIFT without an LLM: what stands in for the model's hypothetical answer, scores and follow-ups.

- HyDE: the question plus the vocabulary of the report closest to it (title, summary, finding headlines).
- Answers: the best evidence sentences (the shared extractive ranker), scored 0-100 by how similar and how
  lexically close the best one is to the question; a follow-up's evidence is ranked against its subject
  plus what the original question still asks (:func:`follow_up_focus`).
- Follow-ups: "What is the role of X?" for the entities the evidence is about that the question does not
  name, most connected first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from graphrag_lite.query.extractive import ScoredEvidence
from graphrag_lite.query.index_data import IndexData
from graphrag_lite.query.names import STOPWORDS
from graphrag_lite.store.records import CommunityReport

_WORD = re.compile(r"[^\W_]+")  # the word pattern of query.names, so match offsets line up
SIMILARITY_WEIGHT = 0.5  # the rest of an offline score is the question words the evidence covers


def vocabulary_hyde(query: str, report: CommunityReport | None) -> str:
    """The question followed by the words of the closest report, as a stand-in hypothetical answer."""
    if report is None:
        return query
    headlines = "; ".join(f.summary for f in report.findings if f.summary)
    return "\n".join(part for part in (query, f"{report.title}. {report.summary}", headlines) if part)


def evidence_score(picked: Sequence[ScoredEvidence]) -> int:
    """0-100 from the best piece of evidence: half embedding similarity, half question-word coverage."""
    if not picked:
        return 0
    best = max(SIMILARITY_WEIGHT * p.similarity + (1 - SIMILARITY_WEIGHT) * p.coverage for p in picked)
    return round(100 * max(0.0, min(1.0, best)))


def evidence_answer(picked: Sequence[ScoredEvidence]) -> str:
    """One cited quote per line (the node answer; the final answer adds the extractive label)."""
    return "\n".join(f"- {p.evidence.text} [Data: {p.evidence.cite}]" for p in picked)


def display_name(title: str) -> str:
    """Entity titles are stored upper-case ("EBENEZER SCROOGE"); questions read better in title case."""
    return title.title() if title.isupper() else title


def entity_questions(data: IndexData, entity_ids: Iterable[str], skip: set[str], limit: int) -> list[str]:
    """Questions about the given entities, in the order given, leaving out ``skip`` and repeats."""
    questions: list[str] = []
    seen = set(skip)
    for entity_id in entity_ids:
        entity = data.entity_by_id.get(entity_id)
        if entity is None or entity_id in seen:
            continue
        seen.add(entity_id)
        questions.append(f"What is the role of {display_name(entity.title)}?")
        if len(questions) >= limit:
            break
    return questions


def without_names(data: IndexData, text: str) -> str:
    """The content words of ``text`` other than the entity names in it: what a question still asks once
    its named hops are resolved ("What does the employer of Bob Cratchit think of Christmas?" ->
    "employer think Christmas")."""
    words = _WORD.findall(text)
    named = {i for m in data.entity_names.find_in(text) for i in range(m.start, m.end)}
    return " ".join(w for i, w in enumerate(words) if i not in named and w.upper() not in STOPWORDS)


def usual_name(data: IndexData, entity_id: str) -> str:
    """The form of an entity's name (title or alias) its passages use most ("Scrooge", not "EBENEZER
    SCROOGE"), so evidence is matched against the words the text actually uses."""
    entity = data.entity_by_id[entity_id]
    forms = [entity.title, *entity.aliases]
    texts = [data.text_unit_by_id[u].text.lower() for u in entity.text_unit_ids if u in data.text_unit_by_id]
    counts = {form: sum(t.count(form.lower()) for t in texts) for form in forms if form.strip()}
    best = max(counts, key=lambda f: (counts[f], -len(f)), default=entity.title)
    return display_name(best)


def follow_up_focus(data: IndexData, question: str, query: str) -> str:
    """What an extractive follow-up answer is ranked against: the follow-up's subject, by the name the
    text uses, plus what the original question still asks; the follow-up itself when it names no one
    new."""
    subjects = [e for e in named_entities(data, question) if e not in named_entities(data, query)]
    rest = without_names(data, query)
    if not subjects:
        return f"{question} {rest}".strip()
    return " ".join([*sorted(usual_name(data, e) for e in subjects), rest]).strip()


def named_entities(data: IndexData, text: str) -> set[str]:
    """Ids of the entities ``text`` names by title or alias."""
    return {m.entity_id for m in data.entity_names.find_in(text)}


def report_entities(data: IndexData, reports: Sequence[CommunityReport]) -> list[str]:
    """The entities of the reports' communities: report by report, named entities before noun-phrase
    concepts ("What is the role of robe?" is a poor follow-up), most connected first in each."""
    out: list[str] = []
    for report in reports:
        community = data.community_by_id.get(report.community_id)
        if community is None:
            continue
        members = [data.entity_by_id[e] for e in community.entity_ids if e in data.entity_by_id]
        members.sort(key=lambda e: (e.type == "concept", -e.degree, e.title))
        out.extend(e.id for e in members if e.id not in out)
    return out
