"""Community reports without an LLM: the community's most central sentences, each cited.

Same schema as LLM reports (``method="extractive"``):

* **title** - the community's top three named entities by internal degree (edges inside the community;
  ties: global degree, frequency, A-Z), e.g. "Ebenezer Scrooge, Jacob Marley and Bob Cratchit". Concepts
  (noun phrases) only fill the title when fewer than three named entities are members.
* **findings** (3-8; ``2 + members // 2`` clamped) - TextRank over the community's sentences: TF-IDF cosine
  similarity (idf over every sentence of the index), PageRank teleporting in proportion to how many member
  entities a sentence names (plus 0.1, so a sentence naming none can still rank). Whole sentences of 8+
  words go before fragments and one-liners; near-duplicates (word Jaccard >= 0.6) are skipped. Each
  finding: summary = the member entities the sentence names, explanation = the sentence +
  ``[Data: Sources (<text unit id>)]``. When fewer than three sentences exist, entity descriptions fill
  in, cited with the entity's first text unit.
* **summary** - counts (entities by type, relationships, text units) and the most central sentence.
* **rating** (0-10) = 10 x (0.5 x size + 0.3 x density + 0.2 x strength), where size = min(1, ln(1+n) /
  ln(31)) for n member entities (30 or more saturate), density = internal edges / (n(n-1)/2), and strength
  = min(1, ln(1+w) / ln(11)) for the mean internal edge weight w (10 or more saturate). Big, tightly knit,
  often co-mentioned groups rate high; a lone entity rates about 1.

Speed: sentences are split and matched to entities once for the whole index; per community at most
``max_sentences`` (default 200) candidates are ranked, those naming the most member entities first, so a
report costs milliseconds even for a level-0 community spanning the whole corpus. Deterministic: ties
always fall back to the text units' order and then sentence order. A community whose members, their
descriptions, internal relationships and text units are as before keeps its report from the step memo.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from graphrag_lite.index.extract.nlp import CONCEPT
from graphrag_lite.index.reports.record import join_names, render_report, report_from_memo, report_to_memo
from graphrag_lite.index.reports.sentences import (
    NameMatcher,
    SparseVector,
    content_terms,
    cosine_similarity,
    jaccard,
    split_sentences,
    textrank,
    tfidf_vectors,
    word_keys,
)
from graphrag_lite.store.ids import normalize_title, report_id
from graphrag_lite.store.memo import ItemMemo, memo_key
from graphrag_lite.store.records import Community, CommunityReport, Entity, Finding, Relationship, TextUnit

EXTRACTIVE_NOTE = "_Extractive report: sentences quoted from the sources, no LLM._"
MIN_FINDINGS = 3
MAX_FINDINGS = 8
DUPLICATE_JACCARD = 0.6
TELEPORT_FLOOR = 0.1
MIN_FINDING_WORDS = 8
_COMPLETE_START = re.compile(r"^[\"'‘“(]*[A-Z0-9]")


@dataclass(frozen=True)
class _Sentence:
    text: str
    unit_id: str
    position: int  # index-wide order: text unit order, then sentence order
    terms: tuple[str, ...]
    entity_ids: frozenset[str]


class SentenceIndex:
    """Every sentence of the text units, with its content terms and the entities it names."""

    def __init__(self, text_units: Sequence[TextUnit], entities: Sequence[Entity]) -> None:
        matcher = NameMatcher((e.id, name) for e in entities for name in (e.title, *e.aliases))
        self.sentences: list[_Sentence] = []
        self.by_unit: dict[str, list[int]] = {}
        self.unit_order = {unit.id: n for n, unit in enumerate(text_units)}
        for unit in text_units:
            rows = self.by_unit.setdefault(unit.id, [])
            for text in split_sentences(unit.text):
                keys = word_keys(text)
                terms = tuple(content_terms(keys))
                rows.append(len(self.sentences))
                self.sentences.append(
                    _Sentence(text, unit.id, len(self.sentences), terms, frozenset(matcher.find(keys)))
                )
        self.vectors: list[SparseVector] = tfidf_vectors([s.terms for s in self.sentences])

    def candidates(self, unit_ids: Sequence[str], members: set[str], limit: int) -> list[_Sentence]:
        """Distinct sentences of the units (overlap repeats dropped), the ``limit`` naming most members first;
        sentences naming no member only when fewer than three name one."""
        ordered_units = sorted(
            (u for u in set(unit_ids) if u in self.by_unit), key=self.unit_order.__getitem__
        )
        seen: set[str] = set()
        naming: list[_Sentence] = []
        others: list[_Sentence] = []
        for unit_id in ordered_units:
            for row in self.by_unit[unit_id]:
                sentence = self.sentences[row]
                if sentence.text in seen:
                    continue
                seen.add(sentence.text)
                (naming if sentence.entity_ids & members else others).append(sentence)
        pool = naming if len(naming) >= MIN_FINDINGS else naming + others
        pool.sort(key=lambda s: (-len(s.entity_ids & members), s.position))
        return sorted(pool[:limit], key=lambda s: s.position)


def _internal(members: Sequence[Entity], incident: dict[str, list[Relationship]]) -> list[Relationship]:
    """Relationships with both ends among ``members`` (``incident``: normalised title -> its edges)."""
    keys = {normalize_title(e.title) for e in members}
    found: dict[str, Relationship] = {}
    for key in sorted(keys):
        for rel in incident.get(key, []):
            if normalize_title(rel.source) in keys and normalize_title(rel.target) in keys:
                found.setdefault(rel.id, rel)
    return list(found.values())


def _ranked_members(members: Sequence[Entity], internal: Sequence[Relationship]) -> list[Entity]:
    degree: Counter[str] = Counter()
    for rel in internal:
        degree[normalize_title(rel.source)] += 1
        degree[normalize_title(rel.target)] += 1
    return sorted(
        members, key=lambda e: (-degree[normalize_title(e.title)], -e.degree, -e.frequency, e.title)
    )


def rating_for(n_entities: int, internal: Sequence[Relationship]) -> tuple[float, str]:
    """The documented 0-10 rating (see the module notes) and its explanation."""
    size = min(1.0, math.log1p(n_entities) / math.log(31))
    pairs = n_entities * (n_entities - 1) / 2
    density = len(internal) / pairs if pairs else 0.0
    mean_weight = sum(r.weight for r in internal) / len(internal) if internal else 0.0
    strength = min(1.0, math.log1p(mean_weight) / math.log(11))
    rating = round(10 * (0.5 * size + 0.3 * min(1.0, density) + 0.2 * strength), 1)
    explanation = (
        f"Extractive rating from structure: {n_entities} entities (size {size:.2f}), {len(internal)} "
        f"internal relationships (density {density:.2f}), mean co-occurrence weight {mean_weight:.1f} "
        f"(strength {strength:.2f}); 10 x (0.5 size + 0.3 density + 0.2 strength)."
    )
    return rating, explanation


def _finding_label(sentence: _Sentence, ranked: Sequence[Entity]) -> str:
    named = [e.title for e in ranked if e.id in sentence.entity_ids][:3]
    if named:
        return join_names(named)
    words = sentence.text.split()
    return " ".join(words[:8]) + (" …" if len(words) > 8 else "")


def _readable(sentence: _Sentence) -> bool:
    """A whole sentence of some substance: not a chunk-edge fragment, a heading or a bare "said Scrooge"."""
    return (
        len(sentence.text.split()) >= MIN_FINDING_WORDS and _COMPLETE_START.match(sentence.text) is not None
    )


def _central_sentences(
    candidates: list[_Sentence], members: set[str], index: SentenceIndex, wanted: int
) -> list[_Sentence]:
    """The ``wanted`` highest-ranked distinct sentences, readable ones first."""
    similarity = cosine_similarity([index.vectors[s.position] for s in candidates])
    bias = [TELEPORT_FLOOR + len(s.entity_ids & members) for s in candidates]
    scores = textrank(similarity, bias)
    order = sorted(
        range(len(candidates)),
        key=lambda i: (not _readable(candidates[i]), -round(float(scores[i]), 9), candidates[i].position),
    )
    picked: list[_Sentence] = []
    picked_terms: list[set[str]] = []
    for i in order:
        terms = set(candidates[i].terms)
        if any(jaccard(terms, t) >= DUPLICATE_JACCARD for t in picked_terms):
            continue
        picked.append(candidates[i])
        picked_terms.append(terms)
        if len(picked) == wanted:
            break
    return picked


def _report(
    community: Community,
    members: list[Entity],
    incident: dict[str, list[Relationship]],
    index: SentenceIndex,
    max_sentences: int,
) -> CommunityReport:
    internal = _internal(members, incident)
    ranked = _ranked_members(members, internal)
    named = [e for e in ranked if e.type != CONCEPT]
    title_entities = (named + [e for e in ranked if e.type == CONCEPT])[:3]
    title = join_names([e.title for e in title_entities]) or f"Community {community.id}"
    member_ids = {e.id for e in members}
    unit_ids = community.text_unit_ids or [u for e in members for u in e.text_unit_ids]
    wanted = max(MIN_FINDINGS, min(MAX_FINDINGS, 2 + len(members) // 2))
    candidates = index.candidates(unit_ids, member_ids, max_sentences)
    central = _central_sentences(candidates, member_ids, index, wanted) if candidates else []
    findings = [
        Finding(_finding_label(s, ranked), f"{s.text} [Data: Sources ({s.unit_id})]") for s in central
    ]
    for entity in ranked:  # too few sentences: the members' own descriptions, cited
        if len(findings) >= MIN_FINDINGS:
            break
        if entity.description and entity.text_unit_ids:
            findings.append(
                Finding(entity.title, f"{entity.description} [Data: Sources ({entity.text_unit_ids[0]})]")
            )

    types = Counter(e.type for e in members)
    type_text = ", ".join(f"{n} {t}" for t, n in sorted(types.items(), key=lambda kv: (-kv[1], kv[0])))
    units = len(set(unit_ids))
    centre = join_names([e.title for e in ranked[:3]])
    summary = (
        f"A community of {len(members)} entities ({type_text}) joined by {len(internal)} relationships "
        f"across {units} text unit{'s' if units != 1 else ''}; the most connected are {centre}."
    )
    if central:
        summary += f' Most central passage: "{central[0].text}"'
    rating, rating_explanation = rating_for(len(members), internal)
    report = CommunityReport(
        id=report_id(community.id),
        community_id=community.id,
        level=community.level,
        title=title,
        summary=summary,
        findings=findings,
        rating=rating,
        rating_explanation=rating_explanation,
        method="extractive",
        status="ok",
        context_source="entities",
    )
    report.full_content = render_report(
        report, note="_Extractive report: sentences quoted from the sources, no LLM._"
    )
    return report


def extractive_reports(
    communities: Sequence[Community],
    entities: Sequence[Entity],
    relationships: Sequence[Relationship],
    text_units: Sequence[TextUnit],
    *,
    max_sentences: int = 200,
    memo: ItemMemo | None = None,
) -> list[CommunityReport]:
    """One extractive report per community, in the order of ``communities``."""
    memo = memo if memo is not None else ItemMemo()
    by_id = {e.id: e for e in entities}
    index = SentenceIndex(text_units, entities)
    incident: dict[str, list[Relationship]] = {}
    for rel in relationships:
        incident.setdefault(normalize_title(rel.source), []).append(rel)
        incident.setdefault(normalize_title(rel.target), []).append(rel)
    reports: list[CommunityReport] = []
    for community in communities:
        members = [by_id[e] for e in community.entity_ids if e in by_id]
        key = _fingerprint(community, members, incident)
        previous = memo.get(key)
        if previous is not None:
            reports.append(report_from_memo(previous, community))
            continue
        report = _report(community, members, incident, index, max_sentences)
        memo.put(key, report_to_memo(report))
        reports.append(report)
    return reports


def _fingerprint(community: Community, members: list[Entity], incident: dict[str, list[Relationship]]) -> str:
    """What a report is made of: members with their descriptions, internal edges, text units, level."""
    return memo_key(
        "extractive_report",
        community.level,
        community.text_unit_ids,
        [(e.id, e.title, e.type, e.description, e.degree, e.aliases, e.text_unit_ids) for e in members],
        sorted((r.id, r.weight, r.description) for r in _internal(members, incident)),
    )
