"""The JSON API in process (FastAPI's TestClient) on the real sample index and model."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import get_args

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from paraseek.api import STATUS, ModeName, create_app, status_of
from paraseek.compare import align, first_documents, silence_floor, talking_points
from paraseek.embedder import Embedder
from paraseek.errors import (
    IndexLockedError,
    IndexNotFoundError,
    ParaseekError,
    UnknownPassageError,
)
from paraseek.index import Index, Writer
from paraseek.search import MODES, Hit, Searcher

from .conftest import HIT_FIELDS, INTERVIEW, SCRIPT, copy_index, free_port, running
from .test_search import GOLDEN

# From test_search.GOLDEN; this one is answered first, not only in the top 3. ("Why did Haz
# stop studying to become a lawyer?" puts first the passage before its answer, which tells of
# the scholarship to law school and "a difficult decision", and the answer second.)
QUESTION, ANSWERS = next(g for g in GOLDEN if g[0] == "Who was behind the 2014 coup in Ukraine?")
ALLOWED = "http://127.0.0.1:9999"
KEY = "s3cret-key"
ROUTES = ["/search", "/passages/{passage_id}", "/passages/{passage_id}/similar", "/compare",
          "/compare/grid", "/compare/points", "/compare/align", "/documents",
          "/documents/{document}", "/health"]  # fmt: skip


@pytest.fixture(scope="module")
def client(searcher: Searcher) -> Iterator[TestClient]:
    with TestClient(create_app(searcher, cors_origins=[ALLOWED], api_key="")) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(searcher: Searcher) -> Iterator[TestClient]:
    with TestClient(create_app(searcher, api_key=KEY)) as client:
        yield client


def as_json(hits: list[Hit]) -> list[dict[str, object]]:
    """Hits as `paraseek search --json` prints them, read back."""
    return [json.loads(json.dumps(h.to_dict(), ensure_ascii=False)) for h in hits]


def test_a_golden_question_puts_its_passage_first(client: TestClient, searcher: Searcher) -> None:
    answer = client.get("/search", params={"q": QUESTION, "k": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["query"] == QUESTION and body["mode"] == "hybrid" and body["k"] == 3
    assert any(a in body["hits"][0]["text"] for a in ANSWERS), body["hits"][0]["text"][:80]
    assert HIT_FIELDS <= set(body["hits"][0])
    # The same fields and values as the CLI's --json (Hit.to_dict).
    assert body["hits"] == as_json(searcher.search(QUESTION, 3))


def test_search_modes_filters_and_explain(client: TestClient, searcher: Searcher) -> None:
    keyword = client.get("/search", params={"q": "Flynn resignation", "mode": "keyword"}).json()
    assert keyword["mode"] == "keyword" and keyword["hits"][0]["bm25"] > 1.0  # raw BM25
    assert 0 < keyword["hits"][0]["score"] <= 1.0  # relevance (Hit.score)
    assert keyword["hits"] == as_json(searcher.search("Flynn resignation", mode="keyword"))
    documents = searcher.documents()
    wanted = [documents[0].id, INTERVIEW.name]  # an id and a file name, like --doc
    filtered = client.get("/search", params={"q": "communism", "k": 20, "doc": wanted}).json()
    ids = {h["document_id"] for h in filtered["hits"]}
    assert ids and ids <= set(searcher.index.resolve_documents(wanted))
    assert keyword["closest"] is None and keyword["floor"] is None


def test_search_tells_how_close_the_closest_passage_comes(
    client: TestClient, searcher: Searcher
) -> None:
    floor = silence_floor(searcher).score
    near = client.get("/search", params={"q": QUESTION, "k": 3}).json()
    assert near["floor"] == floor
    dense = searcher.search(QUESTION, 1, mode="dense")[0].cosine
    assert near["closest"] == pytest.approx(dense, abs=1e-6)
    assert near["closest"] > floor and near["hits"][0]["score"] != near["closest"]
    far = client.get("/search", params={"q": "How do whales sleep?", "mode": "dense"}).json()
    assert (
        far["closest"] == pytest.approx(far["hits"][0]["cosine"], abs=1e-6)
        and far["closest"] < floor
        and far["hits"][0]["score"] < 0.5  # relevance: under the floor, under 0.5
    )


def test_hits_carry_author_raw_scores_and_filter_by_author(client: TestClient) -> None:
    body = client.get("/search", params={"q": "Did Putin meddle in the election?", "k": 20}).json()
    blog = [h for h in body["hits"] if h["title"].startswith("Interfering In Elections")]
    assert blog and all(h["author"] == "Sean O'Torain" for h in blog)
    assert all(h["cosine"] is not None and h["bm25"] is not None for h in body["hits"])
    mine = client.get("/search", params={"q": "Putin", "author": "o'torain"}).json()["hits"]
    assert mine and {h["author"] for h in mine} == {"Sean O'Torain"}
    compared = client.get("/compare", params={"q": "Putin", "author": "korchagin"}).json()
    assert {h["title"] for h in compared["hits"]} == {"Haz: what is MAGA Communism"}
    unknown = client.get("/search", params={"q": "Putin", "author": "Nobody Known"})
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("No document by 'Nobody Known'; authors: ")
    listed = client.get("/documents").json()["documents"]
    assert {d["author"] for d in listed} >= {"Sean O'Torain", None}
    for hit in body["hits"]:  # plain text, never Markdown link syntax
        assert "](" not in hit["title"] + hit["context"]


def test_search_explain(client: TestClient) -> None:
    explained = client.get("/search", params={"q": QUESTION, "k": 2, "explain": "true"}).json()
    assert all(h["best_sentence"] is not None for h in explained["hits"])


LEAD_QUESTION = "Can someone be both a communist and a believer in God?"
FRAUD_QUESTION = "Is there evidence of election fraud in the US?"


def test_a_quotation_is_marked_as_one_and_the_article_as_its_authors(
    embedder: Embedder, news_index: Path
) -> None:
    searcher = Searcher(Index(news_index), embedder)
    with TestClient(create_app(searcher, api_key="")) as client:
        hits = client.get("/search", params={"q": "when will the rail lines be built"}).json()
        voices = {h["text"][:10]: h["voice"] for h in hits["hits"]}
        quoted = next(h["passage_id"] for h in hits["hits"] if h["voice"])
        passage = client.get(f"/passages/{quoted}").json()
    assert voices["\u201cWe cannot"] == "quoting The minister"  # a search box's badge
    assert voices["Opposition"] is None and voices["Teachers' "] is None
    assert (passage["text"][:10], passage["voice"]) == ("\u201cWe cannot", "quoting The minister")


def test_a_passage_and_its_similar_passages(client: TestClient, searcher: Searcher) -> None:
    hit = searcher.search(QUESTION, 1)[0]
    passage = client.get(f"/passages/{hit.passage_id}").json()
    assert passage == {
        "passage_id": hit.passage_id, "document_id": hit.document_id, "title": hit.title,
        "date": hit.date, "source": hit.source, "text": hit.text, "context": hit.context,
        "start": hit.start, "end": hit.end, "ordinal": hit.ordinal, "lead": False,
        "speaker": None, "voice": None,
    }  # fmt: skip
    # The interviewer's question: search returns its answer, which names it as `asked`.
    asked = next(h.asked for h in searcher.search(LEAD_QUESTION, 3) if h.asked)
    assert client.get(f"/passages/{asked}").json()["lead"] is True
    said = next(h for h in searcher.search(FRAUD_QUESTION, 5) if h.speaker)  # a reader's
    body = client.get(f"/passages/{said.passage_id}").json()
    assert (body["speaker"], body["voice"]) == ("Anonymous", "comment by Anonymous")
    similar = client.get(f"/passages/{hit.passage_id}/similar", params={"k": 3}).json()
    assert similar["passage_id"] == hit.passage_id and len(similar["hits"]) == 3
    assert similar["hits"] == as_json(searcher.similar(hit.passage_id, 3))
    assert hit.passage_id not in {h["passage_id"] for h in similar["hits"]}
    others = client.get(
        f"/passages/{hit.passage_id}/similar", params={"other_documents": "true"}
    ).json()
    assert others["hits"] and all(h["document_id"] != hit.document_id for h in others["hits"])


def test_comments_speak_for_their_document_only_when_asked(
    client: TestClient, searcher: Searcher
) -> None:
    for comments in (False, True):
        params = {"q": FRAUD_QUESTION, "comments": str(comments).lower()}
        body = client.get("/compare", params=params).json()
        assert body["hits"] == as_json(searcher.compare(FRAUD_QUESTION, comments=comments))
        grid = client.get("/compare/grid", params=params).json()
        best = {h["document_id"]: h["score"] for h in body["hits"] if h["rank"] == 1}
        assert {d["document_id"]: d["score"] for d in grid["questions"][0]["documents"]} == best
    said = [h["speaker"] for h in body["hits"]]  # with comments: a reader's comment answers
    assert "Anonymous" in said
    assert not any(
        h["speaker"] for h in client.get("/compare", params={"q": FRAUD_QUESTION}).json()["hits"]
    )
    blog = next(h["document_id"] for h in body["hits"] if h["speaker"])
    other = next(d.id for d in searcher.documents() if d.id != blog)
    for comments in (False, True):
        params = {"document": blog, "against": other, "comments": str(comments).lower()}
        rows = client.get("/compare/align", params=params).json()["passages"]
        assert any(r["speaker"] for r in rows) is comments
        assert all(r["voice"] == (r["speaker"] and f"comment by {r['speaker']}") for r in rows)
        points = client.get(
            "/compare/points", params={"similarity": 0.63, "comments": str(comments).lower()}
        ).json()["points"]
        assert any(p["speaker"] for point in points for p in point["passages"]) is comments
        assert all(
            p["voice"] == (p["speaker"] and f"comment by {p['speaker']}")
            for point in points for p in point["passages"]
        )  # fmt: skip


def test_compare_keeps_to_the_documents_given(client: TestClient, searcher: Searcher) -> None:
    documents = searcher.documents()
    doc = [documents[2].id, documents[0].id]
    params = {"q": "Did Russia interfere in the US election?", "doc": doc}
    body = client.get("/compare", params=params).json()
    assert body["hits"] == as_json(searcher.compare(params["q"], documents=doc))
    assert {h["document_id"] for h in body["hits"]} == set(doc)
    explained = client.get("/compare", params={**params, "explain": "true"}).json()["hits"]
    expected = searcher.explain(params["q"], searcher.compare(params["q"], documents=doc))
    assert explained == as_json(expected) and all(h["best_sentence"] for h in explained)
    grid = client.get("/compare/grid", params=params).json()
    assert [d["document_id"] for d in grid["questions"][0]["documents"]] == [doc[1], doc[0]]
    unknown = client.get("/compare", params={"q": "Russia", "doc": "nowhere.txt"})
    assert unknown.status_code == 404 and "No document 'nowhere.txt'" in unknown.json()["error"]


def test_compare_and_documents(client: TestClient, searcher: Searcher) -> None:
    documents = searcher.documents()
    compared = client.get("/compare", params={"q": QUESTION}).json()
    assert compared["per_document"] == 1
    assert sorted(h["document_id"] for h in compared["hits"]) == sorted(d.id for d in documents)
    assert compared["hits"] == as_json(searcher.compare(QUESTION))
    assert compared["floor"] == 0.5  # the silence floor, on the scale of the scores
    assert compared["floor_cosine"] == silence_floor(searcher).score
    religion = client.get("/compare", params={"q": "What role does religion and the Church play?"})
    body = religion.json()
    assert body["floor"] == compared["floor"]  # calibrated once per index generation
    best = {h["document_id"]: h["score"] for h in body["hits"] if h["rank"] == 1}
    assert body["silent"] == [d for d, score in best.items() if score < body["floor"]]
    assert len(body["silent"]) == 4  # only the interview talks about religion
    assert (body["documents"], body["addressed"]) == (5, 1)
    addressed = sum(score >= compared["floor"] for score in
                    (h["score"] for h in compared["hits"] if h["rank"] == 1))  # fmt: skip
    assert (compared["documents"], compared["addressed"]) == (5, addressed)
    two = client.get("/compare", params={"q": QUESTION, "per_document": 2}).json()
    assert len(two["hits"]) > len(compared["hits"])
    # limit: the hits of the documents that answer best; the counts are of every document.
    religion = "What role does religion and the Church play?"
    first = client.get("/compare", params={"q": religion, "per_document": 2, "limit": 2}).json()
    assert first["hits"] == as_json(first_documents(searcher.compare(religion, 2), 2))
    assert len({h["document_id"] for h in first["hits"]}) == 2
    assert (first["documents"], first["addressed"]) == (5, 1)
    assert first["silent"] == [first["hits"][-1]["document_id"]]  # the second, not the other 3
    assert client.get("/compare", params={"q": religion, "limit": -1}).status_code == 422
    listed = client.get("/documents").json()["documents"]
    assert listed == [
        {"id": d.id, "title": d.title, "author": d.author, "date": d.date, "source": d.path,
         "passages": d.passages}
        for d in documents
    ]  # fmt: skip


def test_compare_grid_answers_many_questions_as_compare_answers_each(
    client: TestClient, searcher: Searcher
) -> None:
    questions = [
        "Did Russia interfere in the US election?",
        "What role does religion and the Church play?",
        "sourdough bread",
    ]
    body = client.get("/compare/grid", params={"q": questions}).json()
    assert [row["query"] for row in body["questions"]] == questions
    for row in body["questions"]:
        single = client.get("/compare", params={"q": row["query"]}).json()
        best = {h["document_id"]: h["score"] for h in single["hits"] if h["rank"] == 1}
        assert row["floor"] == body["floor"] == single["floor"]
        assert {d["document_id"]: d["score"] for d in row["documents"]} == best
        assert [d["document_id"] for d in row["documents"] if d["silent"]] == [
            d.id for d in searcher.documents() if d.id in single["silent"]
        ]
        assert row["addressed"] == len(best) - len(single["silent"])
    assert [row["addressed"] for row in body["questions"]] == [4, 1, 0]


def test_points_and_align_answer_as_the_library_does(
    client: TestClient, searcher: Searcher
) -> None:
    titles = {d.id: d.title for d in searcher.documents()}
    body = client.get("/compare/points").json()
    assert body["similarity"] == 0.7
    assert body["points"] == [p.to_dict(titles) for p in talking_points(searcher, 0.7)]
    assert body["total"] == len(body["points"]) < 20  # under the default limit
    first = client.get("/compare/points", params={"similarity": 0.65, "limit": 1}).json()
    assert len(first["points"]) == 1 < first["total"]
    assert body["points"] and {"Russia", "Russian"} & set(body["points"][0]["words"])
    looser = client.get("/compare/points", params={"similarity": 0.65}).json()["points"]
    assert len(looser) > len(body["points"])
    interview = next(d for d in searcher.documents() if d.path == str(INTERVIEW))
    other = next(d for d in searcher.documents() if d.id != interview.id)
    params = {"document": INTERVIEW.name, "against": other.id, "similarity": 0.55}
    aligned = client.get("/compare/align", params=params).json()
    rows = align(searcher, interview.id, other.id, 0.55)
    assert (aligned["document"], aligned["against"]) == (interview.id, other.id)
    assert aligned["passages"] == [r.to_dict() for r in rows]
    assert aligned["shared_count"] == sum(r.shared for r in rows) > 0


def test_health(client: TestClient, searcher: Searcher) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["generation"] == searcher.index.generation()


def test_the_spec_lists_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert sorted(spec["paths"]) == sorted(ROUTES)
    assert "securitySchemes" not in spec.get("components", {})  # no key, no scheme
    assert set(get_args(ModeName)) == set(MODES)


BAD = [
    ("/search", 422, "Missing query parameter 'q'."),
    ("/search?q=", 422, "The query is empty"),
    ("/search?q=%20%20%20", 422, "The query is empty"),
    (f"/search?q={'x' * 2001}", 422, "Invalid query parameter 'q'"),
    ("/search?q=x&k=0", 422, "Invalid query parameter 'k' = '0': Input should be greater than or equal to 1."),
    ("/search?q=x&k=10001", 422, "less than or equal to 10000"),
    ("/search?q=x&k=ten", 422, "Invalid query parameter 'k' = 'ten'"),
    ("/search?q=x&mode=fuzzy", 422, "'dense', 'keyword' or 'hybrid'"),
    ("/search?q=x&doc=nope.txt", 404, "No document 'nope.txt'"),
    ("/search?q=x&explain=maybe", 422, "'explain'"),
    ("/passages/987654321", 404, "No passage with id 987654321"),
    ("/passages/-1", 422, "Invalid path parameter 'passage_id'"),
    ("/passages/abc", 422, "Invalid path parameter 'passage_id'"),
    ("/passages/99999999999999999999999", 422, "less than or equal to 9223372036854775807"),
    ("/passages/987654321/similar", 404, "No passage with id 987654321"),
    ("/passages/1/similar?k=0", 422, "'k'"),
    ("/compare", 422, "Missing query parameter 'q'."),
    ("/compare?q=%09", 422, "The query is empty"),
    ("/compare?q=x&per_document=101", 422, "'per_document'"),
    ("/compare/grid", 422, "Missing query parameter 'q'."),
    ("/compare/points?similarity=2", 422, "'similarity'"),
    ("/compare/points?doc=nope.txt", 404, "No document 'nope.txt'"),
    ("/compare/align?document=nope.txt&against=x", 404, "No document 'nope.txt'"),
    ("/compare/align?document=" + INTERVIEW.name, 422, "Missing query parameter 'against'."),
    (f"/compare/align?document={INTERVIEW.name}&against={INTERVIEW.stem}", 422, "the same document"),
    ("/compare/grid?q=x&q=%20", 422, "The query is empty"),
    ("/compare/grid?" + "&".join(["q=x"] * 21), 422, "21 questions; the grid takes at most 20"),
    ("/nowhere", 404, "No route /nowhere"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "status", "message"), BAD, ids=[b[0][:40] for b in BAD])
def test_every_invalid_request_gets_a_4xx_json_error(
    client: TestClient, url: str, status: int, message: str
) -> None:
    answer = client.get(url)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"] and "\n" not in body["error"]
    assert message in body["error"]


def test_other_methods_are_refused_as_json(client: TestClient) -> None:
    answer = client.post("/search?q=x")
    assert answer.status_code == 405
    assert answer.json() == {"error": "POST is not allowed on /search; use GET."}


def test_each_error_class_has_its_status() -> None:
    class Locked(IndexLockedError):
        pass

    assert status_of(UnknownPassageError("x")) == 404
    assert status_of(Locked("x")) == 503  # a subclass takes its base's status
    assert status_of(ParaseekError("x")) == 500
    assert all(400 <= s < 600 for s in STATUS.values())


def test_an_unreadable_index_answers_503_not_500(
    sample_index: Path, embedder: Embedder, tmp_path: Path
) -> None:
    copy = tmp_path / "index"
    copy_index(sample_index, copy)
    client = TestClient(create_app(Searcher(Index(copy), embedder), api_key=""))
    assert client.get("/health").status_code == 200
    with sqlite3.connect(copy / "paraseek.db") as db:  # a generation whose vectors are missing
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    answer = client.get("/health")
    assert answer.status_code == 503
    assert "Vector file '<index>/vectors." in answer.json()["error"]
    assert "paraseek repair --index <index>" in answer.json()["error"]
    assert str(copy) not in answer.text and str(copy.resolve()) not in answer.text  # server paths


def test_cors_headers_only_for_allowed_origins(client: TestClient, searcher: Searcher) -> None:
    allowed = client.get("/documents", headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    other = client.get("/documents", headers={"Origin": "http://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/search",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "x-api-key"},
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    refused = client.options(
        "/search",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in refused.headers
    plain = TestClient(create_app(searcher, cors_origins=None, api_key=""))  # the default: none
    assert (
        "access-control-allow-origin"
        not in plain.get("/health", headers={"Origin": ALLOWED}).headers
    )


def test_a_key_guards_every_route_but_health(keyed: TestClient, searcher: Searcher) -> None:
    passage = searcher.search(QUESTION, 1)[0].passage_id
    urls = [f"/search?q={QUESTION}", f"/passages/{passage}", f"/passages/{passage}/similar",
            f"/compare?q={QUESTION}", "/documents"]  # fmt: skip
    for url in urls:
        missing = keyed.get(url)
        assert missing.status_code == 401, url
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "This API needs a key" in missing.json()["error"]
        wrong = keyed.get(url, headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401 and "The API key is wrong" in wrong.json()["error"]
        assert keyed.get(url, headers={"X-API-Key": KEY}).status_code == 200, url
        assert keyed.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert keyed.get(url, headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    assert keyed.get("/health").status_code == 200
    # The key is checked before the parameters: no hint about the API without it.
    assert keyed.get("/search?k=0").status_code == 401
    spec = keyed.get("/openapi.json").json()
    assert {"X-API-Key", "Bearer"} <= set(spec["components"]["securitySchemes"])


def test_the_key_comes_from_the_environment(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARASEEK_API_KEY", "from-env")
    monkeypatch.setenv("PARASEEK_CORS_ORIGINS", f"{ALLOWED}, http://other.example")
    client = TestClient(create_app(searcher))
    assert client.get("/documents").status_code == 401
    answer = client.get("/documents", headers={"X-API-Key": "from-env", "Origin": ALLOWED})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == ALLOWED
    assert TestClient(create_app(searcher, api_key="")).get("/documents").status_code == 200


@pytest.mark.slow
def test_an_app_from_an_index_folder(sample_index: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="No index at"):
        create_app(tmp_path / "nothing")  # fails before serving, as the CLI reports it
    client = TestClient(create_app(sample_index, api_key=""))  # loads the index's model
    hits = client.get("/search", params={"q": QUESTION, "k": 1}).json()["hits"]
    assert any(a in hits[0]["text"] for a in ANSWERS)


def test_concurrent_requests_get_the_same_answers(client: TestClient) -> None:
    questions = [q for q, _ in GOLDEN[:6]] * 2
    urls = [f"/search?q={q}&k=3" for q in questions] + ["/documents", f"/compare?q={QUESTION}"]
    expected = {url: client.get(url).json() for url in urls}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda url: (url, client.get(url)), urls))
    for url, answer in answers:
        assert answer.status_code == 200 and answer.json() == expected[url], url


def test_a_reindex_is_served_without_a_restart(
    sample_index: Path, embedder: Embedder, tmp_path: Path
) -> None:
    copy = tmp_path / "index"
    copy_index(sample_index, copy)
    client = TestClient(create_app(Searcher(Index(copy), embedder), api_key=""))
    before = client.get("/health").json()["generation"]
    count = len(client.get("/documents").json()["documents"])
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "lighthouse.txt").write_text(
        "The lighthouse keeper polished the great lens every evening before dusk.\n",
        encoding="utf-8",
    )
    with Writer(copy, embedder) as writer:
        writer.update([extra])
    assert client.get("/health").json()["generation"] > before
    assert len(client.get("/documents").json()["documents"]) == count + 1
    hits = client.get("/search", params={"q": "who cleans the lighthouse lens?", "k": 1}).json()
    assert "lighthouse keeper" in hits["hits"][0]["text"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_fuzzed_requests_never_get_a_server_error(searcher: Searcher, mode: GenerationMode) -> None:
    """Requests generated from the OpenAPI spec, valid (positive) and invalid (negative)."""
    app = create_app(searcher, cors_origins=[ALLOWED], api_key="")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    @given(case=schema.as_strategy(mode))
    @settings(
        max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(timeout=300)  # a check of answers, not of speed (10 s by default)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        if response.status_code >= 400:
            assert list(response.json()) == ["error"], response.text

    check()


def test_a_document_comes_with_its_passages_a_page_at_a_time(
    client: TestClient, searcher: Searcher
) -> None:
    doc = next(d for d in searcher.documents() if d.path == str(INTERVIEW))
    passages = searcher.index.document_passages(doc.id)
    first = client.get(f"/documents/{doc.id}", params={"per_page": 100})
    assert first.status_code == 200
    body = first.json()
    assert {k: body[k] for k in ("id", "title", "date", "source", "passages")} == {
        "id": doc.id, "title": doc.title, "date": doc.date, "source": doc.path,
        "passages": doc.passages,
    }  # fmt: skip
    assert "author" in body and body["page"] == 1 and body["pages"] == 3 and body["first"] == 1
    assert [i["passage_id"] for i in body["items"]] == [p.id for p in passages[:100]]
    assert [i["number"] for i in body["items"]] == list(range(1, 101))
    assert [i["text"] for i in body["items"]] == [p.text for p in passages[:100]]
    last = client.get(f"/documents/{doc.id}", params={"per_page": 100, "page": 3}).json()
    assert last["first"] == 201 and [i["number"] for i in last["items"]] == list(
        range(201, len(passages) + 1)
    )
    # A file name names the document too.
    by_name = client.get("/documents/004_04f89b89d737b294.txt", params={"per_page": 5}).json()
    assert [i["passage_id"] for i in by_name["items"]] == [p.id for p in passages[:5]]


def test_an_unknown_document_or_page_is_a_json_error(
    client: TestClient, searcher: Searcher
) -> None:
    unknown = client.get("/documents/no-such-document")
    assert unknown.status_code == 404
    assert unknown.json()["error"].startswith("No document 'no-such-document' in index '<index>'")
    doc = next(d for d in searcher.documents() if d.path == str(INTERVIEW))
    past = client.get(f"/documents/{doc.id}", params={"page": 4, "per_page": 100})
    assert past.status_code == 422
    assert past.json() == {
        "error": f"page 4 is past the last page of '{doc.id}': {doc.passages} passages make 3 "
        "page(s) of 100."
    }
    for params in ({"page": 0}, {"per_page": 0}, {"per_page": 1001}, {"page": "x"}):
        bad = client.get(f"/documents/{doc.id}", params=params)
        assert bad.status_code == 422 and list(bad.json()) == ["error"]


# --- the size limits, answered as JSON whichever layer meets them ---------------------------


def test_requests_over_the_size_limits_get_json_in_process(client: TestClient) -> None:
    long = client.get("/search?q=" + "a" * 40_000)
    assert long.status_code == 414 and long.headers["content-type"] == "application/json"
    assert "longer than 32 KiB" in long.json()["error"]
    heavy = client.get("/health", headers={f"x-h{i}": "b" * 1000 for i in range(40)})
    assert heavy.status_code == 431 and "larger than 32 KiB" in heavy.json()["error"]


def _raw(port: int, data: bytes, chunk: int) -> tuple[int, str, dict[str, object]]:
    """Send `data` in `chunk`-byte pieces; the status line, content type and JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            for begin in range(0, len(data), chunk):
                sock.sendall(data[begin : begin + chunk])
        except (BrokenPipeError, ConnectionResetError):  # answered and closed before the end
            pass
        answer = b""
        while not answer.endswith(b"}"):
            part = sock.recv(65536)
            if not part:
                break
            answer += part
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type", ""), json.loads(body)


@pytest.mark.slow
def test_a_real_server_answers_what_it_refuses_itself_as_json(
    sample_index: Path, tmp_path: Path
) -> None:
    """Requests uvicorn refuses before the app sees them: heads still incomplete past its
    64 KiB limit (sent in pieces, as a slow client does) and bytes that are not HTTP."""
    port = free_port()
    command = [str(SCRIPT), "api", "--index", str(sample_index), "--port", str(port)]
    with running(command, f"http://127.0.0.1:{port}/health", tmp_path / "api.log"):
        cases = [
            (b"GET /search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 1000, 414),
            (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 100_000 + b"\r\n\r\n", 1000, 431),
            (b"GET /search?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 1 << 20, 414),
            (b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n", 1 << 20, 400),
            (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 1 << 20, 400),  # a header without a colon
        ]
        for data, chunk, status in cases:
            got, kind, body = _raw(port, data, chunk)
            assert (got, kind) == (status, "application/json"), (data[:40], got, kind, body)
            assert list(body) == ["error"] and "\n" not in str(body["error"])


def test_compare_and_grid_score_as_search_does(client: TestClient, searcher: Searcher) -> None:
    religion = "What role does religion and the Church play?"
    body = client.get("/compare", params={"q": religion}).json()
    found = client.get("/search", params={"q": religion, "mode": "dense", "k": 300}).json()
    dense = {h["passage_id"]: h for h in found["hits"] if h["asked"] is None}
    for hit in body["hits"]:  # the same passage, the same score: a relevance from 0 to 1
        assert hit["score"] == pytest.approx(dense[hit["passage_id"]]["score"], abs=1e-5)
        assert hit["cosine"] == pytest.approx(dense[hit["passage_id"]]["cosine"], abs=1e-5)
    assert (body["floor"], body["floor_cosine"]) == (0.5, silence_floor(searcher).score)
    assert body["silent"] == [h["document_id"] for h in body["hits"] if h["score"] < 0.5]
    assert len(body["silent"]) == 4  # only the interview takes up religion
    grid = client.get("/compare/grid", params={"q": [religion]}).json()
    assert (grid["floor"], grid["floor_cosine"]) == (body["floor"], body["floor_cosine"])
    cells = grid["questions"][0]["documents"]
    assert {d["document_id"]: (d["score"], d["cosine"], d["silent"]) for d in cells} == {
        h["document_id"]: (h["score"], h["cosine"], h["document_id"] in body["silent"])
        for h in body["hits"]
    }


@pytest.mark.slow
def test_explain_is_bounded(client: TestClient, embedder: Embedder, tmp_path: Path) -> None:
    """explain=true embeds every hit's sentences: a request explains at most 100 hits, with a
    one-line 422 above that (k=1808 took a minute under load), whatever k allows without it."""
    big = client.get("/search", params={"q": "Russia", "k": 1808, "explain": "true"})
    assert big.status_code == 422 and big.json() == {
        "error": "explain=true explains at most 100 hits, but this asks for 1,808; ask for "
        "k=100 or fewer, or leave out explain."
    }
    assert client.get("/search", params={"q": "Russia", "k": 1808}).status_code == 200
    explained = client.get("/search", params={"q": "Russia", "k": 3, "explain": "true"}).json()
    assert all(h["best_sentence"] for h in explained["hits"])
    # compare explains every document's hits: 101 documents are too many.
    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(101):
        (folder / f"note{n:03}.txt").write_text(
            f"Note {n}\n\nTram line {n} runs through district {n} every {n % 7 + 3} minutes.\n",
            encoding="utf-8",
        )
    with Writer(tmp_path / "index", embedder) as writer:
        writer.update([folder])
    many = Searcher(Index(tmp_path / "index"), embedder)
    with TestClient(create_app(many, api_key="")) as other:
        params = {"q": "How often do the trams run?", "explain": "true"}
        refused = other.get("/compare", params=params)
        assert refused.status_code == 422 and refused.json() == {
            "error": "explain=true explains at most 100 hits, but this asks for 101; set limit "
            "to 100 documents or fewer, or leave out explain."
        }
        limited = other.get("/compare", params={**params, "limit": 2}).json()
        assert len(limited["hits"]) == 2 and all(h["best_sentence"] for h in limited["hits"])
