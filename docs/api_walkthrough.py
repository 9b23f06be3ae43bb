"""The whole loop through the HTTP API alone, against a running server (e.g. `make run`).

    python docs/api_walkthrough.py http://127.0.0.1:8000

Uses the demo logins (`manage.py load_demo`); creates a bundle, uploads items, publishes,
claims and submits as three workers, approves, and prints the results as JSONL. Standard
library only, so it doubles as a client example.
"""

import json
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8000"
PASSWORD = "demo-pass-2026"  # noqa: S105 - the published demo password


def call(method, path, token=None, body=None, content_type="application/json"):
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310
            text = response.read().decode()
            return response.status, (json.loads(text) if "json" in response.headers.get(
                "Content-Type", "") and not path.endswith("jsonl") else text)  # fmt: skip
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode())


def login(email):
    status, body = call("POST", "/api/v1/auth/token/", body={"email": email, "password": PASSWORD})
    assert status == 200, body
    return body["token"]


requester = login("requester@crowdmarket.local")
status, bundle = call("POST", "/api/v1/bundles/", requester, {
    "title": "Walk-through: is this review positive?",
    "instructions": "Choose the sentiment.",
    "question": {"type": "single_choice", "choices": [
        {"value": "pos", "label": "Positive"}, {"value": "neg", "label": "Negative"}]},
    "reward": 5, "currency": "usd", "overlap": 3, "time_limit_seconds": 600,
})  # fmt: skip
print("create", status, bundle["id"], bundle["status"])
csv = "external_id,text\nw1,I love it\nw2,Broken on arrival\n"
status, upload = call("POST", f"/api/v1/bundles/{bundle['id']}/items/", requester, csv, "text/csv")
print("upload", status, upload)
status, published = call("POST", f"/api/v1/bundles/{bundle['id']}/publish/", requester)
print("publish", status, published.get("status"), published.get("code"))

for n in (1, 2, 3):
    worker = login(f"worker{n}@crowdmarket.local")
    while True:
        status, claim = call("POST", f"/api/v1/work/bundles/{bundle['id']}/claim/", worker)
        if status != 201:
            print(f"worker{n} claim ->", status, claim["code"])
            break
        answer = "pos" if "love" in claim["item"]["payload"]["text"] else "neg"
        status, done = call("POST", f"/api/v1/work/assignments/{claim['id']}/submit/", worker,
                            {"answer": answer})  # fmt: skip
        print(f"worker{n} submitted", claim["item"]["payload"]["text"], "->", answer, status)

status, page = call("GET", f"/api/v1/bundles/{bundle['id']}/assignments/?status=submitted",
                    requester)  # fmt: skip
ids = [a["id"] for a in page["results"]]
status, review = call("POST", "/api/v1/assignments/review/", requester,
                      {"ids": ids, "action": "approve"})  # fmt: skip
print("approve", status, len(review["done"]), "errors:", review["errors"])
status, text = call("GET", f"/api/v1/bundles/{bundle['id']}/results/?format=jsonl", requester)
print("results:\n" + text)
status, detail = call("GET", f"/api/v1/bundles/{bundle['id']}/", requester)
print("bundle status:", detail["status"], detail["progress"])
