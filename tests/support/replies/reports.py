"""Test-server replies for the community report prompt (prompts/community_report.txt).

The reply reads the context like a careful but literal model: the title names the two highest-degree
entities ("Scrooge and Marley"), or the first two sub-community report titles when the context is built
from sub-reports; the summary names them; five findings each describe one sub-report, entity or
relationship and cite its id; the rating grows with the community's size.

Test hooks (put them in an entity description): ``[[reports: malformed]]`` makes every reply unreadable;
``[[reports: malformed once]]`` makes the reply unreadable unless the request carries the "JSON only"
reminder that the report generator sends on its retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from support.replies import ReplyRequest

REPORT_MARKER = "## Writing the community report (JSON reply)"
MALFORMED_ALWAYS = "[[reports: malformed]]"
MALFORMED_ONCE = "[[reports: malformed once]]"
REMINDER_PHRASE = "previous reply could not be read"
UNREADABLE = "I looked at this community closely, and it is an interesting one; here is what I think."


@dataclass
class _Row:
    id: str
    cells: list[str]


@dataclass
class _SubReport:
    id: str
    size: int
    title: str = ""
    summary: str = ""


@dataclass
class _Context:
    entities: list[_Row] = field(default_factory=list)  # cells: title, type, description, degree
    relationships: list[_Row] = field(default_factory=list)  # cells: source, target, description, ...
    reports: list[_SubReport] = field(default_factory=list)


def _data_part(text: str) -> str:
    return text.split("## Data", 1)[1] if "## Data" in text else text


def _parse(text: str) -> _Context:
    ctx = _Context()
    section = ""
    for line in _data_part(text).splitlines():
        if line.startswith("-----") and line.endswith("-----"):
            section = line.strip("-").strip()
            continue
        if section in ("Entities", "Relationships") and "|" in line and not line.startswith("id|"):
            row_id, *cells = line.split("|")
            target = ctx.entities if section == "Entities" else ctx.relationships
            target.append(_Row(row_id.strip(), [c.strip() for c in cells]))
        elif section == "Sub-community reports":
            if line.startswith("id: "):
                head = [part.strip() for part in line[4:].split("|")]
                size = head[1].removeprefix("entities:").strip() if len(head) > 1 else "0"
                ctx.reports.append(_SubReport(head[0], int(size) if size.isdigit() else 0))
            elif line.startswith("title: ") and ctx.reports:
                ctx.reports[-1].title = line[7:].strip()
            elif line.startswith("summary: ") and ctx.reports:
                ctx.reports[-1].summary = line[9:].strip()
    return ctx


def _degree(row: _Row) -> int:
    value = row.cells[3] if len(row.cells) > 3 else "0"
    return int(value) if value.lstrip("-").isdigit() else 0


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _findings(ctx: _Context, entities: list[_Row]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for report in ctx.reports:
        out.append(
            {
                "summary": f"{report.title} is one part of this community",
                "explanation": f"{report.summary} [Data: Reports ({report.id})]",
            }
        )
    pending_entities = list(entities)
    pending_rels = list(ctx.relationships)
    while len(out) < 5 and (pending_entities or pending_rels):
        if pending_entities and (len(out) % 2 == 0 or not pending_rels):
            row = pending_entities.pop(0)
            title, kind, description = [*row.cells, "", "", ""][:3]
            out.append(
                {
                    "summary": f"{title} ({kind or 'entity'}) is a key member",
                    "explanation": f"{description or title} [Data: Entities ({row.id})]",
                }
            )
        else:
            row = pending_rels.pop(0)
            source, target, description = [*row.cells, "", "", ""][:3]
            out.append(
                {
                    "summary": f"{source} and {target} are connected",
                    "explanation": f"{description or 'They are related.'} [Data: Relationships ({row.id})]",
                }
            )
    return out[:10]


def reply_report(request: ReplyRequest) -> str:
    text = request.text
    if MALFORMED_ALWAYS in text or (MALFORMED_ONCE in text and REMINDER_PHRASE not in text):
        return UNREADABLE
    ctx = _parse(text)
    entities = sorted(ctx.entities, key=lambda r: (-_degree(r), r.cells[0] if r.cells else ""))
    if ctx.reports:
        names = [r.title for r in ctx.reports[:2] if r.title]
        title = "; ".join(names)
        size = sum(r.size for r in ctx.reports) + len(entities)
    else:
        names = [r.cells[0] for r in entities[:2] if r.cells]
        title = _join(names) if names else "An unnamed community"
        size = len(entities)
    members = [r.cells[0] for r in entities[:4] if r.cells]
    if ctx.reports:
        parts = "; ".join(r.title for r in ctx.reports)
        summary = f"This community brings together {len(ctx.reports)} groups: {parts}."
        summary += f" It also includes {_join(members)}." if members else ""
    else:
        summary = f"This community centres on {_join(names) if names else 'a few entities'}."
        summary += f" Other members include {_join(members[2:])}." if len(members) > 2 else ""
    rating = round(min(10.0, 2.0 + 0.5 * size), 1)
    payload = {
        "title": title,
        "summary": summary,
        "findings": _findings(ctx, entities),
        "rating": rating,
        "rating_explanation": f"The community has {size} entities; larger communities rate higher.",
    }
    return json.dumps(payload)


HANDLERS = [(REPORT_MARKER, reply_report)]
