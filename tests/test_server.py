"""``graphrag-lite serve``: every route over a real uvicorn process on a free local port, auth, limits,
SSE, the OpenAI-compatible chat (through the real ``openai`` client), upload → job → update, and the web
page in headless Chromium (Debian's package; skipped with a reason where it is absent).

The served project is a real fast index of the Carol excerpt (two documents) plus one hostile document
whose name and text are HTML, and one entity renamed to HTML: the page must show them as text.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI
from query_fixtures import offline_settings
from support import TestLLMServer
from support.projects import write_project
from support.serve import ServedProject
from typer.testing import CliRunner

from graphrag_lite.api.facade import GraphRAG
from graphrag_lite.cli.main import app
from graphrag_lite.errors import ConfigError
from graphrag_lite.server.jobs import Job, JobBusyError, Jobs
from graphrag_lite.server.options import ServerOptions
from graphrag_lite.server.security import upload_path
from graphrag_lite.store.tables import read_records, write_table

KEY = "serve-test-key-0123456789"
EXCERPT = Path(__file__).parent / "data" / "carol_excerpt.txt"
CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_NAME = "<img src=x onerror=window.pwned=1>"
HOSTILE_TEXT = (
    "The prankster Wilbur Quince wrote on the wall of the counting-house: <img src=x onerror=window.pwned=2> "
    "and <script>window.pwned=3</script>. Wilbur Quince laughed at his own joke for a week.\n"
)
HOSTILE_ENTITY = "<img src=x onerror=window.pwned=4>"
JOB_TIMEOUT_S = 300.0  # liveness only


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = EXCERPT.read_text(encoding="utf-8").splitlines(keepends=True)
    half = len(lines) // 2
    documents = {
        "carol_a.txt": "".join(lines[:half]),
        "carol_b.txt": "".join(lines[half:]),
        f"{HOSTILE_NAME}.txt": HOSTILE_TEXT,
    }
    root = write_project(tmp_path_factory.mktemp("served"), documents)
    with GraphRAG(root, settings=offline_settings(root)) as rag:
        rag.index(method="fast")
    _rename_an_entity(root / "output", "Wilbur Quince", HOSTILE_ENTITY)
    return root


def _rename_an_entity(output: Path, old: str, new: str) -> None:
    """Give one entity (and its relationships) a title that is HTML, as a hostile LLM could."""
    entities = read_records(output, "entities")
    target = next(e for e in entities if e.title == old)
    target.title = new
    write_table(output, "entities", entities)
    relationships = read_records(output, "relationships")
    for rel in relationships:
        rel.source = new if rel.source == old else rel.source
        rel.target = new if rel.target == old else rel.target
    write_table(output, "relationships", relationships)


@pytest.fixture(scope="module")
def served(project: Path) -> Iterator[ServedProject]:
    with ServedProject(project, api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def llm_served(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProject]:
    """The same index served with an LLM (the scripted test server), so answers stream in pieces."""
    root = tmp_path_factory.mktemp("served_llm")
    shutil.copytree(project / "output", root / "output")
    with TestLLMServer() as llm:
        (root / "settings.yaml").write_text(
            f"llm:\n  api_base: {llm.base_url}\n  api_key: test\n  model: test-model\n", encoding="utf-8"
        )
        with ServedProject(root, api_key=KEY) as server:
            yield server


@pytest.fixture(scope="module")
def upload_served(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedProject]:
    """A copy of the project of its own: the upload test changes its input and index."""
    root = tmp_path_factory.mktemp("served_upload") / "project"
    shutil.copytree(project, root, ignore=shutil.ignore_patterns("serve-*.log"))
    with ServedProject(root, api_key=KEY) as server:
        yield server


def _get(served: ServedProject, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{served.url}{path}", params=params, headers=served.auth, timeout=60)


def _query(served: ServedProject, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{served.url}/query", json=body, headers={**served.auth, **headers}, timeout=120)


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


# -- auth, errors, limits --------------------------------------------------------------------------------


def test_every_api_route_needs_the_key(served: ServedProject) -> None:
    routes = ["/health", "/stats", "/entities", "/v1/models", "/text_units/x", "/jobs/x", "/graph?entity=x"]
    for route in routes:
        for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789"}, {"Authorization": KEY}):
            response = httpx.get(f"{served.url}{route}", headers=headers, timeout=30)
            assert response.status_code == 401, (route, headers)
            assert "API key" in response.json()["error"] and response.headers["www-authenticate"] == "Bearer"
    posted = httpx.post(f"{served.url}/query", json={"question": "Who is Scrooge?"}, timeout=30)
    assert posted.status_code == 401
    assert _get(served, "/health").json()["status"] == "ok"
    # The page itself is public: it holds no data, and asks for the key.
    page = httpx.get(f"{served.url}/", timeout=30)
    assert page.status_code == 200 and 'id="api-key"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers scripts
    assert httpx.get(f"{served.url}/assets/cytoscape.min.js", timeout=30).status_code == 200


def test_bad_requests_get_json_errors_that_name_the_problem(served: ServedProject) -> None:
    empty = _query(served, {"question": ""})
    assert empty.status_code == 422 and "question" in empty.json()["error"]
    method = _query(served, {"question": "x", "method": "telepathy"})
    assert method.status_code == 422 and "method" in method.json()["error"]
    missing = _get(served, "/entities/e-nope")
    assert missing.status_code == 404 and "GET /entities?q=" in missing.json()["error"]
    assert _get(served, "/text_units/t-nope").status_code == 404
    assert _get(served, "/graph").status_code == 400
    assert "Traceback" not in missing.text


def test_an_oversize_body_is_refused_with_413(served: ServedProject) -> None:
    big = {"question": "x" * (1024 * 1024 + 10)}
    response = _query(served, big)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert _get(served, "/health").status_code == 200  # the server is fine afterwards


def test_cors_is_off_unless_configured(served: ServedProject) -> None:
    preflight = httpx.options(
        f"{served.url}/query",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = httpx.get(
        f"{served.url}/health", headers={**served.auth, "Origin": "https://elsewhere.example"}
    )
    assert "access-control-allow-origin" not in response.headers


def test_non_loopback_needs_a_key_and_short_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="without an API key"):
        ServerOptions(root=Path("."), host="0.0.0.0")
    with pytest.raises(ConfigError, match="16 characters"):
        ServerOptions(root=Path("."), api_key="short")
    ServerOptions(root=Path("."), host="0.0.0.0", api_key=KEY)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"GRAPHRAG_SERVER_API_KEY": ""})
    assert result.exit_code == 1 and "without an API key" in result.output


@pytest.mark.parametrize(
    "name", ["../evil.txt", "..\\evil.txt", "/etc/evil.txt", "sub/evil.txt", ".hidden.txt", "x.exe"]
)
def test_upload_names_that_could_leave_input_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        upload_path(tmp_path / "input", name, ["txt", "md"])
    assert upload_path(tmp_path / "input", "notes (v2).md", ["md"]).name == "notes (v2).md"


def test_a_path_traversal_upload_is_refused_over_http(served: ServedProject, project: Path) -> None:
    files = {"files": ("../evil.txt", b"escaped", "text/plain")}
    response = httpx.post(f"{served.url}/documents", files=files, headers=served.auth, timeout=60)
    assert response.status_code == 400 and "folder" in response.json()["error"]
    assert not (project / "evil.txt").exists() and not (project / "input" / "evil.txt").exists()


def test_one_index_job_at_a_time(project: Path) -> None:
    jobs = Jobs(GraphRAG(project, settings=offline_settings(project)), project)
    jobs.jobs["j1"] = Job("j1", "update", ["a.txt"])
    with pytest.raises(JobBusyError, match="j1"):
        jobs.reserve()


# -- questions ----------------------------------------------------------------------------------------------


def test_query_returns_the_cli_json_result(served: ServedProject) -> None:
    response = _query(served, {"question": "Who is Tiny Tim's father?", "method": "local"})
    assert response.status_code == 200
    result = response.json()
    assert result["method"] == "local" and result["extractive"] is True
    assert result["citations"] and {"answer", "context", "llm_calls", "duration_s"} <= set(result)
    lazy = _query(
        served, {"question": "What happens at Christmas?", "method": "lazy", "options": {"budget": 8}}
    )
    assert lazy.json()["extra"]["relevance_tests"] <= 8


def test_query_filters_restrict_the_documents(served: ServedProject) -> None:
    body = {"question": "Who is Tiny Tim?", "method": "basic", "options": {"filters": {"title": "carol_b"}}}
    result = _query(served, body).json()
    assert result["citations"] and {c["document_title"] for c in result["citations"]} == {"carol_b"}
    assert result["extra"]["filter"] == {"title": "carol_b"}
    bad = _query(served, {"question": "x", "options": {"filters": {"group": []}}})
    assert bad.status_code == 400 and "key=value" in bad.json()["error"]


def test_query_streams_server_sent_events(llm_served: ServedProject) -> None:
    response = _query(
        llm_served, {"question": "Who is Tiny Tim's father?", "method": "basic"}, Accept="text/event-stream"
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    kind, result = events[-1]
    assert kind == "result" and len(deltas) > 1 and "".join(deltas) == result["answer"]
    assert result["extractive"] is False and result["llm_calls"] == 1


def test_openai_client_chats_with_the_server(llm_served: ServedProject) -> None:
    client = OpenAI(base_url=f"{llm_served.url}/v1", api_key=KEY, max_retries=0)
    assert "graphrag-local" in {m.id for m in client.models.list()}
    question = "What does Bob Cratchit carry home?"  # not asked before: the LLM cache would make it free
    reply = client.chat.completions.create(
        model="graphrag-basic", messages=[{"role": "user", "content": question}]
    )
    text = reply.choices[0].message.content or ""
    assert "[Data: Sources (" in text and "\nSources:\n- " in text
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="graphrag-basic",
            messages=[{"role": "user", "content": "Where does Scrooge's nephew live?"}],
            stream=True,
        )
        if chunk.choices
    ]
    streamed = "".join(pieces)
    assert (
        len([p for p in pieces if p]) > 2 and "[Data: Sources (" in streamed and "\nSources:\n- " in streamed
    )
    with pytest.raises(Exception, match="Unknown model"):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
    filtered = client.chat.completions.create(
        model="graphrag-basic",
        messages=[{"role": "user", "content": "Who is Tiny Tim's mother?"}],
        extra_body={"filters": {"title": "carol_a"}},
    )
    footer = (filtered.choices[0].message.content or "").split("\nSources:\n")[-1]
    assert "carol_a" in footer and "carol_b" not in footer
    wrong = OpenAI(base_url=f"{llm_served.url}/v1", api_key="wrong-key-0123456789", max_retries=0)
    with pytest.raises(Exception, match="401"):
        wrong.models.list()


# -- browsing ---------------------------------------------------------------------------------------------


def test_stats_entities_graph_and_text_units(served: ServedProject) -> None:
    stats = _get(served, "/stats").json()
    assert stats["tables"]["entities"] > 10 and stats["workflow"] == "fast"
    found = _get(served, "/entities", q="tim").json()
    tiny = next(e for e in found if e["title"] == "Tiny Tim")
    detail = _get(served, f"/entities/{tiny['id']}").json()
    assert detail["relationships"] and detail["text_units"] and detail["description"]
    view = _get(served, "/graph", entity="Tiny Tim", hops=1, limit=15).json()
    assert len(view["nodes"]) <= 15 and any(n["seed"] and n["title"] == "Tiny Tim" for n in view["nodes"])
    ids = {n["id"] for n in view["nodes"]}
    assert view["edges"] and all(e["source"] in ids and e["target"] in ids for e in view["edges"])
    unit = _get(served, f"/text_units/{detail['text_units'][0]['id']}").json()
    assert "Tim" in unit["text"] and unit["document_title"].startswith("carol_")
    by_unit = _get(served, "/graph", unit=unit["id"]).json()
    assert by_unit["nodes"]


# -- documents --------------------------------------------------------------------------------------------


def test_upload_runs_an_update_job_and_the_new_document_is_answerable(upload_served: ServedProject) -> None:
    served, project = upload_served, upload_served.root
    text = (
        "The lighthouse keeper of Fog Rock is Zebulon Marsh. Zebulon Marsh lights the great lamp of Fog Rock "
        "every evening and writes the weather in a blue book.\n"
    )
    files = {"files": ("fog_rock.txt", text.encode(), "text/plain")}
    response = httpx.post(f"{served.url}/documents", files=files, headers=served.auth, timeout=60)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "update" and job["files"] == ["fog_rock.txt"]
    assert response.headers["location"] == f"/jobs/{job['id']}"
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = _get(served, f"/jobs/{job['id']}").json()
    assert job["status"] == "done", job
    assert job["summary"]["documents"]["added"] == 1 and job["steps"] > 0
    assert (project / "input" / "fog_rock.txt").read_text(encoding="utf-8") == text
    answer = _query(
        served, {"question": "Who is the lighthouse keeper of Fog Rock?", "method": "basic"}
    ).json()
    assert "Zebulon Marsh" in answer["answer"]
    assert "fog_rock" in {c["document_title"] for c in answer["citations"]}


# -- the web page, in a browser ------------------------------------------------------------------------


@pytest.mark.chromium
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_the_page_answers_opens_a_citation_draws_the_graph_and_runs_no_injected_html(
    served: ServedProject,
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            # The page's CSP forbids eval, which Playwright's waits use; bypassing it also makes the
            # injection check stricter: the page must render hostile text as text without CSP's help.
            page = browser.new_page(bypass_csp=True)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(served.url + "/")
            page.wait_for_selector("#key-box:not([hidden])")  # /health said 401: the page asks for the key
            page.fill("#api-key", KEY)
            page.fill("#question", "Who is Tiny Tim's father?")
            page.click("#submit")
            page.wait_for_selector("#sources button.citation")
            assert "Tim" in page.inner_text("#answer")
            page.click("#sources button.citation >> nth=0")
            page.wait_for_selector("#unit-box:not([hidden])")
            assert page.inner_text("#unit-text").strip()
            page.wait_for_function("document.querySelector('#graph canvas') !== null")
            assert page.evaluate("graph.nodes().length") > 1

            # Hostile text: a document name, its text and an entity name that are HTML stay text.
            page.fill("#question", "What did the prankster Wilbur Quince write on the wall?")
            page.select_option("#method", "basic")
            page.click("#submit")
            page.wait_for_function("document.querySelector('#answer').textContent.includes('onerror')")
            page.wait_for_selector("#sources button.citation")
            assert HOSTILE_NAME in page.inner_text("#sources")
            page.click(f"#sources button.citation:has-text('{HOSTILE_NAME[:12]}')")
            page.wait_for_function("document.querySelector('#unit-text').textContent.includes('<script>')")
            search = "fetch('/entities?q=onerror', {headers: {Authorization: 'Bearer ' + apiKey}})"
            hostile = page.evaluate(search + ".then(r => r.json())")
            assert hostile and hostile[0]["title"] == HOSTILE_ENTITY
            page.evaluate(f"showEntity({json.dumps(hostile[0]['id'])})")
            page.wait_for_function("document.querySelector('#entity-title').textContent.includes('onerror')")
            page.wait_for_timeout(300)  # an injected onerror would have fired by now
            assert page.evaluate("window.pwned") is None
            assert page.evaluate("document.querySelectorAll('img, main script').length") == 0
            assert errors == []
        finally:
            browser.close()
