"""The whole Files + Batches surface through the official openai-python client, against a running
stack (base URL in OPENAI_BASE_URL). Run by test/openai-python-client.test.ts; plain Python, no
test runner: each check is a function, failures are printed with their traceback, exit 1 if any.
"""

import io
import json
import os
import sys
import time
import traceback

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0, timeout=30)
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def line(custom_id, text, model="gpt-4o-mini"):
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": text}]},
    }


def jsonl(lines):
    return "".join(json.dumps(l) + "\n" for l in lines).encode()


def upload(lines, name="input.jsonl"):
    return client.files.create(file=(name, io.BytesIO(jsonl(lines))), purpose="batch")


def create(lines):
    return client.batches.create(
        input_file_id=upload(lines).id, endpoint="/v1/chat/completions", completion_window="24h"
    )


def slow(n):
    return [line(f"slow-{i}", f"slow {i} #sim:delay=1500") for i in range(n)]


def wait(batch_id, timeout=90):
    deadline = time.time() + timeout
    while True:
        b = client.batches.retrieve(batch_id)
        if b.status in TERMINAL:
            return b
        assert time.time() < deadline, f"batch {batch_id} still {b.status} after {timeout} s"
        time.sleep(0.2)


def raises(exc_type, fn, *args, **kwargs):
    """Calls fn, which must raise exc_type (the client's typed exception); returns the exception."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    except Exception as e:  # a different exception type is a failure too
        raise AssertionError(f"expected {exc_type.__name__}, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"expected {exc_type.__name__}, the call succeeded")


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def files_create_retrieve_content_delete():
    content = jsonl([line("a", "one"), line("b", "two", "gpt-4o")])
    f = client.files.create(file=("requests.jsonl", io.BytesIO(content)), purpose="batch")
    assert f.object == "file" and f.purpose == "batch" and f.filename == "requests.jsonl", f
    assert f.bytes == len(content), (f.bytes, len(content))
    assert client.files.retrieve(f.id) == f
    assert client.files.content(f.id).read() == content
    deleted = client.files.delete(f.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (f.id, "file", True), deleted
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        e = raises(openai.NotFoundError, call, f.id)
        assert e.status_code == 404 and e.type == "not_found_error", (e.status_code, e.type)


@test
def files_list_pages_and_auto_pager():
    ids = [
        client.files.create(file=(f"e{i}.txt", io.BytesIO(f"e{i}".encode())), purpose="evals").id
        for i in range(5)
    ]
    first = client.files.list(purpose="evals", limit=2)
    assert len(first.data) == 2 and first.has_next_page(), first
    second = first.get_next_page()
    assert len(second.data) == 2 and second.data[0].id != first.data[1].id
    seen = list(client.files.list(purpose="evals", limit=2))  # the auto-pager walks every page
    assert sorted(f.id for f in seen) == sorted(ids), (seen, ids)
    assert all(seen[i - 1].created_at >= seen[i].created_at for i in range(1, len(seen)))
    asc = [f.id for f in client.files.list(purpose="evals", limit=2, order="asc")]
    assert asc == [f.id for f in reversed(seen)], asc


@test
def files_bad_input_is_bad_request():
    e = raises(openai.BadRequestError, client.files.create, file=("x.txt", io.BytesIO(b"x")), purpose="nonsense")
    assert e.param == "purpose", e.param
    e = raises(openai.BadRequestError, client.files.create, file=("x.csv", io.BytesIO(b"x")), purpose="batch")
    assert e.code == "invalid_file_format", e.code
    e = raises(openai.BadRequestError, lambda: client.files.list(after="not-a-file-id"))
    assert e.param == "after", e.param


@test
def files_with_raw_response_headers():
    f = upload([line("a", "x")])
    raw = client.files.with_raw_response.retrieve(f.id)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json"), raw.headers
    assert raw.headers["x-request-id"].startswith("req_"), raw.headers
    assert raw.parse().id == f.id
    content = client.files.with_raw_response.content(f.id)
    assert content.headers["content-type"] == "application/octet-stream", content.headers
    assert int(content.headers["content-length"]) == f.bytes
    deleted = client.files.with_raw_response.delete(f.id)
    assert deleted.status_code == 200 and deleted.parse().deleted is True


@test
def batches_create_retrieve_output():
    b = create([line("a", "alpha"), line("b", "beta", "gpt-4o")])
    assert b.object == "batch" and b.status == "validating" and b.endpoint == "/v1/chat/completions", b
    assert client.batches.retrieve(b.id).id == b.id
    done = wait(b.id)
    assert done.status == "completed", done
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (2, 2, 0)
    out = [json.loads(l) for l in client.files.content(done.output_file_id).text.splitlines() if l]
    assert sorted((l["custom_id"], l["response"]["status_code"]) for l in out) == [("a", 200), ("b", 200)], out


@test
def batches_cancel_and_conflict():
    running = create(slow(40))
    cancelling = client.batches.cancel(running.id)  # the call that answered 400 before the fix
    assert cancelling.id == running.id and cancelling.status in ("cancelling", "cancelled"), cancelling
    assert wait(running.id).status == "cancelled"
    assert client.batches.cancel(running.id).status == "cancelled"  # again: a 200
    finished = wait(create([line("c", "x")]).id)
    e = raises(openai.ConflictError, client.batches.cancel, finished.id)
    assert e.status_code == 409, e.status_code


@test
def batches_list_auto_pager_limit_2():
    ids = [create([line(f"p{i}", "x")]).id for i in range(5)]
    page = client.batches.list(limit=2)
    assert len(page.data) == 2 and page.has_next_page()
    # Every test file shares the Temporal server (one tenant): walk until ours are all seen.
    seen, pages = [], 0
    for p in client.batches.list(limit=2).iter_pages():
        pages += 1
        assert len(p.data) <= 2
        seen.extend(p.data)
        if all(i in {b.id for b in seen} for i in ids):
            break
    seen_ids = [b.id for b in seen]
    assert len(set(seen_ids)) == len(seen_ids), seen_ids
    assert set(ids) <= set(seen_ids) and pages >= 3, (ids, seen_ids, pages)
    assert all(seen[i - 1].created_at >= seen[i].created_at for i in range(1, len(seen)))
    items = []
    for b in client.batches.list(limit=2):  # the item-level auto-pager
        items.append(b.id)
        if set(ids) <= set(items):
            break
    assert [i for i in items if i in ids] == [i for i in seen_ids if i in ids]


@test
def batches_typed_errors():
    e = raises(openai.NotFoundError, client.batches.retrieve, "batch_doesnotexist000000000")
    assert e.type == "not_found_error" and e.request_id and e.request_id.startswith("req_"), (e.type, e.request_id)
    raises(openai.NotFoundError, client.batches.retrieve, "batch_" + "x" * 400)
    raises(openai.NotFoundError, client.batches.cancel, "batch_doesnotexist000000000")
    f = upload([line("a", "x")])
    e = raises(
        openai.BadRequestError,
        client.batches.create,
        input_file_id=f.id,
        endpoint="/v1/nope",
        completion_window="24h",
    )
    assert (e.param, e.code) == ("endpoint", "invalid_value"), (e.param, e.code)
    e = raises(
        openai.NotFoundError,
        client.batches.create,
        input_file_id="file-doesnotexist000000000",
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert e.param == "input_file_id", e.param
    e = raises(  # a 400-character id: answered 500 before ids were checked against our format
        openai.NotFoundError,
        client.batches.create,
        input_file_id="file-" + "a" * 400,
        endpoint="/v1/chat/completions",
        completion_window="24h",
    )
    assert e.param == "input_file_id", e.param
    e = raises(
        openai.BadRequestError,
        client.batches.create,
        input_file_id=f.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"k": "v" * 513},
    )
    assert e.param == "metadata.k", e.param
    raises(openai.BadRequestError, lambda: client.batches.list(after="file-abc"))


@test
def batches_with_raw_response_headers():
    created = client.batches.with_raw_response.create(
        input_file_id=upload(slow(5)).id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert created.status_code == 200 and created.headers["x-request-id"].startswith("req_")
    batch = created.parse()
    retrieved = client.batches.with_raw_response.retrieve(batch.id)
    assert retrieved.headers["content-type"].startswith("application/json")
    assert retrieved.headers["x-request-id"] != created.headers["x-request-id"]
    listed = client.batches.with_raw_response.list(limit=1)
    assert listed.headers["x-request-id"].startswith("req_") and len(listed.parse().data) == 1
    cancelled = client.batches.with_raw_response.cancel(batch.id)
    assert cancelled.status_code == 200 and cancelled.parse().status in ("cancelling", "cancelled")


def main():
    print(f"openai-python {openai.__version__} against {os.environ['OPENAI_BASE_URL']}", flush=True)
    failed = 0
    for fn in TESTS:
        started = time.time()
        try:
            fn()
            print(f"ok    {fn.__name__} ({time.time() - started:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL  {fn.__name__}\n{traceback.format_exc()}", flush=True)
    print(f"{len(TESTS) - failed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
