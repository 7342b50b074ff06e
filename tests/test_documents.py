"""Real document formats: PDF, DOCX, PPTX and HTML files (generated here with reportlab, python-docx and
python-pptx), their pages, sections and metadata, page-exact citations, bad files, and query filters."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from query_fixtures import offline_settings
from support.projects import write_project

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.config import load_settings
from graphrag_lite.errors import ConfigError
from graphrag_lite.index.input.chunking import chunk_documents
from graphrag_lite.index.input.formats import markdown_sections, sniff
from graphrag_lite.index.input.loading import load_documents
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.query.filters import DocumentFilter
from graphrag_lite.store.records import Document
from graphrag_lite.store.tables import read_records, write_table

PAGES = [
    "Apples grew well in the northern orchards this year, and the harvest was early.",
    "The Zanzibar treaty was signed by Ada Finch in March, after two years of talks.",
    "Costs fell by ten percent because the new cold store opened in the spring.",
]


def make_pdf(pages: list[str], *, encrypt: str | None = None, title: str = "Quarterly review") -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, encrypt=encrypt)
    pdf.setTitle(title)
    pdf.setAuthor("Ada Finch")
    for text in pages:
        if text:
            pdf.drawString(72, 720, text)
        else:
            pdf.rect(72, 600, 200, 100, fill=1)  # a drawing, no text: what a scanned page looks like
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.author = "Ben Ortiz"
    document.add_heading("Annual report", level=0)
    document.add_heading("Results", level=1)
    document.add_paragraph("Revenue rose in every region.")
    document.add_heading("Costs", level=2)
    document.add_paragraph("The Quokka programme cut shipping costs by a third.")
    document.add_heading("Outlook", level=1)
    document.add_paragraph("Next year brings two new stores.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    import pptx

    presentation = pptx.Presentation()
    for title, body in (("Plan", "Open the harbour office."), ("Budget", "The Heron fund pays for boats.")):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


HTML = """<!doctype html><html><head><title>Harbour notes</title><style>p {color: red}</style></head>
<body><nav>Home | About</nav><h1>Harbour</h1><p>The harbour opened in 1850.</p>
<h2>Boats</h2><ul><li>The Osprey carries mail to the island.</li></ul>
<script>var secret = "never index me";</script></body></html>"""


def _project(root: Path, files: dict[str, bytes | str], settings: str = "") -> Path:
    (root / "input").mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / "input" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    (root / "settings.yaml").write_text(settings, encoding="utf-8")
    return root


def _by_title(documents: list[Document]) -> dict[str, Document]:
    return {d.title: d for d in documents}


# -- reading -----------------------------------------------------------------------------------------


def test_pdf_pages_docx_sections_pptx_slides_and_html_text(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "review.pdf": make_pdf(PAGES),
            "report.docx": make_docx(),
            "deck.pptx": make_pptx(),
            "notes.html": HTML,
        },
    )
    docs = _by_title(load_documents(load_settings(root)).documents)
    pdf = docs["review"]
    assert len(pdf.page_starts) == 3 and pdf.metadata["pages"] == "3"
    assert pdf.metadata["author"] == "Ada Finch" and pdf.metadata["title"] == "Quarterly review"
    assert pdf.page_at(pdf.text.index("Zanzibar")) == 2 and pdf.page_at(pdf.text.index("Costs fell")) == 3

    report = docs["report"]
    assert report.metadata["author"] == "Ben Ortiz" and report.metadata["format"] == "docx"
    assert report.section_at(report.text.index("Quokka")) == "Annual report > Results > Costs"
    assert report.section_at(report.text.index("two new stores")) == "Annual report > Outlook"

    deck = docs["deck"]
    assert (
        deck.page_at(deck.text.index("Heron")) == 2 and deck.section_at(deck.text.index("Heron")) == "Budget"
    )

    notes = docs["Harbour notes"]  # an HTML page's <title> names it
    assert "Osprey carries mail" in notes.text and "never index me" not in notes.text
    assert "color: red" not in notes.text and "Home | About" not in notes.text
    assert notes.section_at(notes.text.index("Osprey")) == "Harbour > Boats"


def test_the_format_is_read_from_the_content_not_the_name(tmp_path: Path) -> None:
    assert sniff(make_pdf(PAGES)) == "pdf" and sniff(make_docx()) == "docx" and sniff(make_pptx()) == "pptx"
    assert sniff(HTML.encode()) == "html" and sniff(b"plain words") is None
    root = _project(tmp_path, {"misnamed.txt": make_pdf(PAGES)})
    (doc,) = load_documents(load_settings(root)).documents
    assert "Zanzibar treaty" in doc.text and doc.metadata["format"] == "pdf" and len(doc.page_starts) == 3


def test_units_keep_their_span_page_and_section(tmp_path: Path) -> None:
    long_pages = [" ".join([p] * 12) for p in PAGES]
    markdown = (
        "# Guide\n\nIntro words.\n\n## Setup\n\n" + "Install it. " * 80 + "\n\n## Use\n\nRun it daily.\n"
    )
    root = _project(
        tmp_path, {"long.pdf": make_pdf(long_pages), "guide.md": markdown, "plain.txt": "One. " * 400}
    )
    documents = load_documents(load_settings(root)).documents
    units = chunk_documents(documents, 120, 20, get_tokenizer("cl100k_base"), by_section=True)
    by_id = {d.id: d for d in documents}
    for unit in units:
        assert by_id[unit.document_id].text[unit.start_char : unit.end_char] == unit.text
        assert unit.n_tokens <= 120
    pdf_units = [u for u in units if by_id[u.document_id].title == "long"]
    assert [u.page_start for u in pdf_units] == sorted(u.page_start for u in pdf_units)
    assert {u.page_start for u in pdf_units} == {1, 2, 3} and all(
        u.page_end >= u.page_start for u in pdf_units
    )
    guide = [u for u in units if by_id[u.document_id].title == "Guide"]
    assert guide[0].text.startswith("# Guide") and guide[-1].text.startswith("## Use")  # cut at headings
    assert guide[-1].section == "Guide > Use"
    assert markdown_sections("```\n# not a heading\n```\n# Real\n") == ([24], ["Real"])


def test_a_local_query_cites_the_right_page(tmp_path: Path) -> None:
    pages = [" ".join([p] * 6) for p in PAGES]
    root = _project(
        tmp_path, {"review.pdf": make_pdf(pages), "other.txt": "The weather was mild and grey all week."}
    )
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
        result = rag.query("Who signed the Zanzibar treaty?", "local")
        basic = rag.query("Who signed the Zanzibar treaty?", "basic")
    zanzibar = [c for c in result.citations if c.quote and "Zanzibar" in c.quote]
    assert zanzibar and zanzibar[0].pages == "p. 2" and zanzibar[0].where == "review, p. 2"
    assert zanzibar[0].source == "review.pdf" and zanzibar[0].start_char is not None
    cited = result.to_dict()["citations"]
    assert any(c.get("pages") == "p. 2" for c in cited)
    assert any(c.pages == "p. 2" for c in basic.citations)


def test_metadata_from_the_file_a_sidecar_and_columns(tmp_path: Path) -> None:
    rows = json.dumps({"text": "Row text about ferries.", "title": "Ferries", "region": "north"})
    root = _project(
        tmp_path,
        {
            "review.pdf": make_pdf(PAGES),
            "review.pdf.meta.json": json.dumps({"group": "finance", "year": 2024, "public": False}),
            "rows.jsonl": rows + "\n",
            "rows.meta.json": json.dumps({"group": "ops"}),
        },
    )
    result = load_documents(load_settings(root))
    docs = _by_title(result.documents)
    assert (
        docs["review"].metadata | {"group": "finance", "year": "2024", "public": "false"}
        == docs["review"].metadata
    )
    assert docs["Ferries"].metadata["region"] == "north" and docs["Ferries"].metadata["group"] == "ops"
    assert not result.skipped  # sidecars are read with their file, not reported as unreadable files


def test_bad_files_are_skipped_with_a_reason_and_the_rest_loads(tmp_path: Path) -> None:
    corrupt = io.BytesIO()
    with zipfile.ZipFile(corrupt, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<not really word")
    root = _project(
        tmp_path,
        {
            "good.txt": "A good plain document about lighthouses.",
            "locked.pdf": make_pdf(PAGES, encrypt="secret"),
            "scanned.pdf": make_pdf(["", ""]),
            "broken.docx": corrupt.getvalue(),
            "truncated.pdf": make_pdf(PAGES)[:300],
            "huge.html": "<html><body>" + "<p>word</p>" * 20000 + "</body></html>",
            "tagged.txt": "Tagged text.",
            "tagged.txt.meta.json": "{not json",
        },
        "input:\n  max_file_mb: 0.1\n",
    )
    result = load_documents(load_settings(root))
    assert [d.title for d in result.documents] == ["good"]
    reasons = {s.path: (s.kind, s.reason, s.advice) for s in result.skipped}
    assert reasons["locked.pdf"][0] == "encrypted PDF" and "qpdf" in reasons["locked.pdf"][2]
    assert reasons["scanned.pdf"][0] == "no text layer" and "OCR" in reasons["scanned.pdf"][2]
    assert reasons["broken.docx"][0] == "damaged file" and "DOCX" in reasons["broken.docx"][1]
    assert reasons["truncated.pdf"][0] == "damaged file"
    assert reasons["huge.html"][0] == "too large" and "max_file_mb" in reasons["huge.html"][2]
    assert reasons["tagged.txt"][0] == "bad metadata" and "tagged.txt.meta.json" in reasons["tagged.txt"][1]


def test_an_index_written_before_spans_reads_with_defaults(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"a.txt": "Some words to keep."})
    documents = load_documents(load_settings(root)).documents
    units = chunk_documents(documents, 50, 5, get_tokenizer("cl100k_base"))
    output = tmp_path / "output"
    write_table(output, "text_units", units)
    write_table(output, "documents", documents)
    for name, dropped in (
        ("text_units", ["start_char", "end_char", "page_start", "page_end", "section"]),
        ("documents", ["page_starts", "section_starts", "section_paths"]),
    ):
        path = output / f"{name}.parquet"
        pq.write_table(pq.read_table(path).drop_columns(dropped), path)
    (unit,) = read_records(output, "text_units")
    assert (unit.start_char, unit.page_start, unit.section, unit.pages) == (0, 0, "", "")
    assert read_records(output, "documents")[0].page_starts == []


# -- filters -------------------------------------------------------------------------------------------


ALDER = (
    "The Alder project is run by Margaret Holloway from the Leeds office. The Alder project builds "
    "wooden bridges for the river towns. Margaret Holloway reports to the Alder board every month."
)
BIRCH = (
    "The Birch project is secret. Margaret Holloway also advises the Birch project, whose code word is "
    "Quokka. The Birch project hides its Quokka budget from the Alder board."
)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grouped")
    files = {
        "alder.txt": ALDER,
        "alder.txt.meta.json": json.dumps({"group": "public"}),
        "birch.txt": BIRCH,
        "birch.txt.meta.json": json.dumps({"group": "secret"}),
    }
    _project(root, files)
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
    return root


@pytest.mark.parametrize("method", ["local", "basic", "global", "drift", "graph", "lazy"])
def test_a_filtered_query_never_cites_or_quotes_the_other_group(grouped: Path, method: str) -> None:
    with GraphRAG(grouped, settings=offline_settings(grouped)) as rag:
        data = rag._run(rag.aindex_data())
        birch = {d.id for d in data.documents if d.metadata["group"] == "secret"}
        birch_units = {u.id for u in data.text_units if u.document_id in birch}
        unfiltered = rag.query("What does Margaret Holloway do for the Birch project and Quokka?", method)
        result = rag.query(
            "What does Margaret Holloway do for the Birch project and Quokka?",
            method,
            filters={"group": "public"},
        )
    if method in ("local", "basic", "graph", "lazy"):  # without the filter, the secret document is found
        assert {c.text_unit_id for c in unfiltered.citations} & birch_units
    assert not set(result.context.text_units) & birch_units
    assert not {c.text_unit_id for c in result.citations} & birch_units
    assert not {c.document_id for c in result.citations} & birch
    assert "Quokka" not in result.answer and "secret" not in result.answer.lower()
    assert result.extra["filter"] == {"group": "public"}


def test_filtered_index_withholds_descriptions_built_from_excluded_documents(grouped: Path) -> None:
    from graphrag_lite.query.filters import restrict

    with GraphRAG(grouped, settings=offline_settings(grouped)) as rag:
        data = rag._run(rag.aindex_data())
    public = restrict(data, {"group": "public"})
    assert [d.metadata["group"] for d in public.documents] == ["public"]
    margaret = public.find_entity("Margaret Holloway")
    full = data.find_entity("Margaret Holloway")
    assert margaret is not None and full is not None
    if len(full.text_unit_ids) > len(margaret.text_unit_ids):  # mentioned in both documents
        assert margaret.description == "" and not margaret.aliases
    texts = " ".join(
        [e.description for e in public.entities]
        + [r.description for r in public.relationships]
        + [r.full_content for r in public.reports]
    )
    assert "Quokka" not in texts and "Birch" not in texts
    assert restrict(data, {"group": "public"}) is public  # built once per filter


def test_filter_parsing() -> None:
    parsed = DocumentFilter.parse(["group=a", "group=b", "year=2024"])
    assert parsed.to_dict() == {"group": ["a", "b"], "year": ["2024"]}
    with pytest.raises(ConfigError, match="key=value"):
        DocumentFilter.parse(["group"])
    doc = Document("d", "t", "s.txt", "x", "h", {"group": "b", "year": "2024"})
    assert parsed.matches(doc) and not DocumentFilter.parse(["group=c"]).matches(doc)
    assert DocumentFilter.parse(["source=s.txt"]).matches(doc)
