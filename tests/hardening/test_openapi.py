"""Issue 16, finding 9: the OpenAPI schema describes what the API does."""

import pytest
from drf_spectacular.generators import SchemaGenerator


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
