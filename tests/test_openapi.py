"""The OpenAPI document: valid, complete, honest about every status, and reviewed.

`docs/openapi.json` is the committed contract. When the generated document
changes, the snapshot test fails with the difference; after reviewing it,
regenerate the snapshot with `make openapi`.
"""

import difflib
import json
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.live import ROOT

SNAPSHOT = ROOT / "docs" / "openapi.json"
REGENERATE = "make openapi  (or: flask openapi write --format=json docs/openapi.json)"
METHODS = ("get", "post", "put", "patch", "delete")
# The only operations that never touch the database.
WITHOUT_DATABASE = {("GET", "/"), ("GET", "/health")}


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'eventbook.db'}"


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method], item.get("parameters", [])


def resolve(spec, node):
    """Return `node` with every local `$ref` replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(spec, target)
        return {key: resolve(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(spec, item) for item in node]
    return node


def test_the_document_is_valid_openapi_3_0(spec):
    validate(spec)
    assert spec["openapi"] == "3.0.3"


def test_the_committed_snapshot_is_the_generated_document(spec):
    committed = json.loads(Path(SNAPSHOT).read_text())
    if committed != spec:
        diff = "\n".join(
            difflib.unified_diff(
                json.dumps(committed, indent=2, sort_keys=True).splitlines(),
                json.dumps(spec, indent=2, sort_keys=True).splitlines(),
                "docs/openapi.json (committed)",
                "/openapi.json (generated)",
                lineterm="",
                n=2,
            )
        )
        pytest.fail(
            "The OpenAPI document differs from docs/openapi.json. If the change is "
            f"intended, regenerate the snapshot and commit it:\n    {REGENERATE}\n\n{diff}",
            pytrace=False,
        )


def test_every_operation_has_an_id_a_summary_and_a_known_tag(spec):
    tags = {tag["name"] for tag in spec["tags"]}
    ids = []
    for method, path, operation, _ in operations(spec):
        where = f"{method} {path}"
        assert operation.get("operationId"), f"{where} has no operationId"
        assert operation.get("summary", "").endswith("."), f"{where} has no summary sentence"
        assert "\n" not in operation["summary"], f"{where}: the summary is one line"
        assert len(operation.get("tags", [])) == 1 and operation["tags"][0] in tags, where
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def expected_statuses(spec, method, path, operation, path_parameters):
    """The statuses any operation of this shape can answer, whatever it does."""
    statuses = {"500"}
    parameters = resolve(spec, operation.get("parameters", []))
    if (method, path) not in WITHOUT_DATABASE:
        statuses.add("503")
    if "requestBody" in operation:
        statuses |= {"400", "413", "415"}
    if any(p["in"] == "query" for p in parameters):
        statuses.add("400")
    if any(p["name"] == "If-None-Match" for p in parameters):
        statuses.add("304")
    if path_parameters or any(p["in"] == "path" for p in parameters):
        statuses.add("404")
    if operation.get("security"):
        statuses.add("401")
    return statuses


def test_every_operation_documents_the_statuses_its_shape_implies(spec):
    for method, path, operation, path_parameters in operations(spec):
        documented = set(operation["responses"])
        missing = expected_statuses(spec, method, path, operation, path_parameters) - documented
        assert not missing, f"{method} {path} does not document {sorted(missing)}"
        assert any(status.startswith("2") for status in documented), f"{method} {path}"
        assert "default" not in documented, f"{method} {path}: list statuses, not a default"


def test_protected_operations_use_the_bearer_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for method, path, operation, _ in operations(spec):
        if "401" in operation["responses"] and not path.startswith(
            ("/auth/login", "/auth/refresh")
        ):
            assert operation.get("security") == [{"bearerAuth": []}], f"{method} {path}"


def test_every_error_response_has_the_real_error_body(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message", "status_code"]
    for method, path, operation, _ in operations(spec):
        for status, response in operation["responses"].items():
            if status == "304":  # Not Modified has no body
                assert "content" not in resolve(spec, response), f"{method} {path}"
            elif not status.startswith("2"):
                content = resolve(spec, response)["content"]
                assert list(content) == ["application/json"], f"{method} {path} {status}"
                assert content["application/json"]["schema"] == error, f"{method} {path} {status}"


def test_every_request_body_has_an_example_its_schema_accepts(spec):
    for method, path, operation, _ in operations(spec):
        if "requestBody" in operation:
            media = resolve(spec, operation["requestBody"])["content"]["application/json"]
            assert "example" in media, f"{method} {path} has no request example"
            OAS30Validator(media["schema"]).validate(media["example"])


def test_every_error_example_is_an_error_body_of_its_status(spec):
    examples = 0
    for method, path, operation, _ in operations(spec):
        for status, response in operation["responses"].items():
            media = resolve(spec, response).get("content", {}).get("application/json", {})
            for name, example in media.get("examples", {}).items():
                body = example["value"]
                OAS30Validator(media["schema"]).validate(body)
                assert body["status_code"] == int(status), f"{method} {path} {status} {name}"
                assert body["message"] == example["summary"]
                examples += 1
    assert examples > 10


def test_login_example_logs_the_demo_user_in(app, client, spec):
    """Try it out in Swagger UI sends the documented example: it must work as is."""
    app.test_cli_runner().invoke(args=["seed"])
    example = spec["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"]
    response = client.post("/auth/login", json=example["example"])
    assert response.status_code == 200


def probes(operation, path):
    """Requests that go wrong in every way a client can get an operation wrong."""
    url = path.replace("{event_id}", "999999").replace("{booking_id}", "999999")
    yield {"path": url}
    if "{" in path:
        yield {"path": path.replace("{event_id}", "0").replace("{booking_id}", "0")}
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        yield {"path": url, "query_string": {"skip": "-1", "limit": "0", "upcoming": "maybe"}}
    if "requestBody" in operation:
        example = operation["requestBody"]["content"]["application/json"]["example"]
        yield {"path": url, "json": example}
        yield {"path": url, "json": {**example, "id": 1}}
        yield {"path": url, "json": {}}
        yield {"path": url, "json": ["not", "an", "object"]}
        yield {"path": url, "data": "{not json", "content_type": "application/json"}
        yield {"path": url, "data": "a=b", "content_type": "application/x-www-form-urlencoded"}
        yield {"path": url, "json": {"padding": "x" * (1024 * 1024)}}


def test_no_probe_gets_an_undocumented_status(app, client, spec, make_user, auth_headers):
    """The statuses a client meets when it errs are the documented ones."""
    app.test_cli_runner().invoke(args=["seed"])
    user = make_user()
    seen = set()
    for method, path, operation, _ in operations(spec):
        for probe in probes(operation, path):
            for headers in ({}, auth_headers(user)):
                response = client.open(method=method, headers=headers, **probe)
                status = str(response.status_code)
                seen.add(status)
                assert status in operation["responses"], (
                    f"{method} {probe['path']} answered {status}, which is not documented"
                )
    assert {"200", "201", "400", "401", "404", "413", "415"} <= seen
