"""Issue 16, finding 9: the OpenAPI schema describes what the API does."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.fakestripe.fixtures import fake_stripe  # noqa: F401


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _op(schema, path, method="get"):
    return schema["paths"][path][method]


def test_results_as_json_are_an_array(schema):
    content = _op(schema, "/api/v1/bundles/{id}/results/")["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["type"] == "array"
    assert content["text/csv"]["schema"]["type"] == "string"


@pytest.mark.parametrize("path", ["/api/v1/balance/", "/api/v1/work/earnings/"])
def test_statements_document_their_csv(schema, path):
    content = _op(schema, path)["responses"]["200"]["content"]
    assert "text/csv" in content


def test_tasks_left_may_be_null(schema):
    field = schema["components"]["schemas"]["WorkBundle"]["properties"]["tasks_left"]
    assert field.get("nullable") is True


def test_every_operation_documents_its_errors(schema):
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            expected = {"400"} if method in ("post", "put", "patch") else set()
            if operation.get("security") != [{}] and path != "/api/v1/auth/token/":
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if not expected <= codes:
                missing.append((method, path, sorted(expected - codes)))
    assert not missing
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) >= {"code", "detail"}


def test_bundle_fields_carry_their_bounds(schema):
    props = schema["components"]["schemas"]["BundleRequest"]["properties"]
    assert props["reward"]["maximum"] == 2**31 - 1
    assert props["time_limit_seconds"]["maximum"] > 0
    assert props["currency"]["maxLength"] == 3


def _documented(schema, method, template, response):
    """The status is listed for the operation, with the JSON error body it really has."""
    documented = _op(schema, template, method)["responses"]
    assert str(response.status_code) in documented, (method, template, response.status_code)
    assert set(response.json()) >= {"code", "detail"}


@pytest.mark.django_db
def test_what_fuzzing_found_answered_is_documented(schema, settings):
    """Found by schemathesis (issue 16): each of these answered a status its operation did not
    document. Each is triggered here for real."""
    from tests.conftest import client_for
    from tests.factories import BundleFactory, ItemFactory, RequesterFactory, publish

    settings.STRIPE_SECRET_KEY = ""
    requester = RequesterFactory()
    api = client_for(requester)
    live = BundleFactory(requester=requester)
    ItemFactory(bundle=live)
    publish(live)
    assert api.post(f"/api/v1/bundles/{live.pk}/cancel/").status_code == 200
    _documented(schema, "post", "/api/v1/bundles/{id}/cancel/",
                api.post(f"/api/v1/bundles/{live.pk}/cancel/"))  # fmt: skip

    broke = RequesterFactory()
    draft = BundleFactory(requester=broke)
    ItemFactory(bundle=draft)
    _documented(schema, "post", "/api/v1/bundles/{id}/publish/",
                client_for(broke).post(f"/api/v1/bundles/{draft.pk}/publish/"))  # fmt: skip
    _documented(schema, "post", "/api/v1/bonuses/",
                api.post("/api/v1/bonuses/", {"worker_id": "w_nobody", "amount": 100,
                                              "reason": "r", "client_token": "t"}))  # fmt: skip
    _documented(schema, "post", "/api/v1/topups/",
                api.post("/api/v1/topups/", {"amount": 1000, "currency": "usd",
                                             "client_token": "t"}))  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/bundles/", "/api/v1/topups/", "/api/v1/bonuses/"])
def test_a_page_past_the_end_is_a_documented_404(schema, path):
    from tests.conftest import client_for
    from tests.factories import RequesterFactory

    _documented(schema, "get", path, client_for(RequesterFactory()).get(path, {"page": -1}))


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "role"), [("/api/v1/balance/", "requester"),
                                            ("/api/v1/work/earnings/", "worker")])  # fmt: skip
def test_statements_document_the_page_they_answer(schema, path, role):
    """Found by schemathesis: the schema promised one statement line, the view answers the
    balances and a page of lines."""
    from tests.conftest import client_for
    from tests.payments.factories import earning_worker, funded_requester

    user = funded_requester(1_000) if role == "requester" else earning_worker(600)
    body = client_for(user).get(path).json()
    assert body["balances"] and body["results"]
    ref = _op(schema, path)["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(component["required"]) == set(body)
    balance_ref = component["properties"]["balances"]["items"]["$ref"].rsplit("/", 1)[1]
    balance_fields = set(schema["components"]["schemas"][balance_ref]["properties"])
    assert all(set(row) == balance_fields for row in body["balances"])


@pytest.mark.django_db
def test_upload_errors_per_row_fit_the_error_schema(schema):
    """Found by schemathesis: `errors` is a list of rows on `invalid_upload`, and the schema
    allowed only an object."""
    import jsonschema

    from tests.conftest import client_for
    from tests.factories import BundleFactory, RequesterFactory

    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester)
    response = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/items/", [None, None], format="json"
    )
    assert response.status_code == 400 and isinstance(response.json()["errors"], list)
    _documented(schema, "post", "/api/v1/bundles/{id}/items/", response)
    jsonschema.validate(response.json(), schema["components"]["schemas"]["Error"])


@pytest.mark.django_db
def test_a_reused_topup_token_is_a_documented_409(schema, fake_stripe):  # noqa: F811
    from tests.conftest import client_for
    from tests.factories import RequesterFactory

    api = client_for(RequesterFactory())
    assert api.post("/api/v1/topups/", {"amount": 1000, "client_token": "t"}).status_code == 201
    again = api.post("/api/v1/topups/", {"amount": 2000, "client_token": "t"})
    assert again.status_code == 409
    _documented(schema, "post", "/api/v1/topups/", again)


@pytest.mark.django_db
def test_an_upload_of_an_unknown_format_is_a_documented_415(schema):
    """Found by schemathesis: a PNG sent as the items file answered 415, undocumented."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import client_for
    from tests.factories import BundleFactory, RequesterFactory

    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester)
    picture = SimpleUploadedFile("file.png", b"\x89PNG\r\n\x1a\n", content_type="")
    response = client_for(requester).post(
        f"/api/v1/bundles/{bundle.pk}/items/", {"file": picture}, format="multipart"
    )
    assert response.status_code == 415
    _documented(schema, "post", "/api/v1/bundles/{id}/items/", response)
