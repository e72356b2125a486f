"""The contract itself: valid OpenAPI 3.1, linted, examples valid, docs fully covered."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from pixxel_mock.server.spec.document import ApiSpec, compile_schema, first_error
from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC

from .helpers import REPO

COVERAGE = yaml.safe_load((Path(__file__).parent / "docs_coverage.yaml").read_text())
SPECS = [API_SPEC, CONTROL_SPEC]
API = ApiSpec.load(API_SPEC)


def _entry_id(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['path']}"


def _operation(method: str, path: str) -> dict[str, Any]:
    return API.resolved["paths"][path][method]


def _success_schema(operation: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    """The schema of the documented success answer: `status`, else 200, or 201 for a
    creation; a body-less answer (Delete Insights) has an empty one."""
    status = status or ("200" if "200" in operation["responses"] else "201")
    content = operation["responses"][status].get("content")
    if not content:
        return {}
    return (content.get("application/json") or next(iter(content.values())))["schema"]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_is_valid_openapi_3_1(path: Path) -> None:
    document, _ = read_from_filename(str(path))
    assert document["openapi"].startswith("3.1")
    validate(document)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_redocly_lint_finds_no_error_or_warning(path: Path) -> None:
    redocly = REPO / "node_modules" / ".bin" / "redocly"
    if not redocly.exists():
        pytest.fail("run the README's install command: node_modules/.bin/redocly is missing")
    assert shutil.which("node"), "Node.js is needed for the linter"
    result = subprocess.run(
        [str(redocly), "lint", "--config", str(REPO / "redocly.yaml"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower().replace("deprecation warning", ""), output


def _examples(node: Any, where: str = "") -> list[tuple[str, dict[str, Any], Any]]:
    """Every (location, schema, example) pair under a resolved node."""
    found = []
    if isinstance(node, dict):
        if "schema" in node and "examples" in node and isinstance(node["examples"], dict):
            for name, example in node["examples"].items():
                found.append((f"{where}/examples/{name}", node["schema"], example["value"]))
        if "schema" in node and "example" in node:
            found.append((f"{where}/example", node["schema"], node["example"]))
        is_schema = any(k in node for k in ("type", "anyOf", "oneOf", "allOf", "enum"))
        if is_schema and isinstance(node.get("examples"), list):
            schema = {k: v for k, v in node.items() if k != "examples"}
            found += [(f"{where}/examples[{i}]", schema, e) for i, e in enumerate(node["examples"])]
        for key, value in node.items():
            found += _examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _examples(value, f"{where}[{index}]")
    return found


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_example_validates_against_its_schema(path: Path) -> None:
    examples = _examples(ApiSpec.load(path).resolved["paths"])
    examples += _examples(ApiSpec.load(path).resolved["components"].get("schemas", {}))
    assert examples
    problems = [
        f"{where}: {error}"
        for where, schema, value in examples
        if (error := first_error(compile_schema(schema), value))
    ]
    assert not problems, "\n".join(problems)


# The GET operations whose answers come from fixtures alone (not from jobs a client
# created): their examples must be what the mock serves for the parameters' examples.
FIXTURE_BACKED = {
    "ping",
    "listProjects",
    "getProject",
    "listBlocks",
    "listWorkflowBlocks",
    "listInsightBlocks",
    "getBlockVersions",
    "getBlockByVersion",
    "listWorkflows",
    "getWorkflow",
    "getWorkflowCostEstimate",
}


def _contained(example: Any, served: Any) -> bool:
    """True when every field of the example is served with that value (lists: each example
    item is one of the served items), so an example may shorten a list but not invent."""
    if isinstance(example, dict):
        return isinstance(served, dict) and all(
            key in served and _contained(value, served[key]) for key, value in example.items()
        )
    if isinstance(example, list):
        return isinstance(served, list) and all(
            any(_contained(item, candidate) for candidate in served) for item in example
        )
    return example == served


def _example_request(operation: dict[str, Any], path: str) -> tuple[str, dict[str, str]]:
    """The path and query of an operation filled in from its parameters' examples (the
    request its response examples answer)."""
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if "example" not in parameter:
            continue
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(parameter["example"]))
        elif parameter["in"] == "query":
            query[parameter["name"]] = str(parameter["example"])
    return path, query


def test_examples_of_fixture_backed_answers_are_what_the_mock_serves(client: Any) -> None:
    compared: set[str] = set()
    problems = []
    for path, item in API.resolved["paths"].items():
        operation = item.get("get")
        if operation is None or operation["operationId"] not in FIXTURE_BACKED:
            continue
        url, query = _example_request(operation, path)
        answer = client.get(url, query_string=query, headers={"Authorization": "pxm_demo_alpha"})
        examples = operation["responses"]["200"]["content"]["application/json"].get("examples", {})
        if answer.status_code != 200 or not examples:
            continue
        compared.add(operation["operationId"])
        problems += [
            f"{operation['operationId']} example {name!r} is not what {url} serves"
            for name, example in examples.items()
            if not _contained(example["value"], answer.get_json())
        ]
    assert compared == FIXTURE_BACKED, FIXTURE_BACKED - compared
    assert not problems, "\n".join(problems)


def test_examples_are_realistic_not_placeholders() -> None:
    text = API_SPEC.read_text()
    for placeholder in ("<string>", '"string"', ": 123\n", "<any>"):
        assert placeholder not in text


def test_every_documented_operation_is_in_the_spec() -> None:
    documented = {(op["method"], op["path"]) for op in COVERAGE["operations"]}
    in_spec = {(op.method.lower(), op.path) for op in API.operations.values()}
    assert documented - in_spec == set()
    # 14 documented operations + the two DEV-only block lists + 7 of the archive and search
    # + 6 of AOIs, assets and downloads + 8 of indices and visualizations + 4 of insights
    # + 16 of the order desk
    assert len(documented) == 57


@pytest.mark.parametrize(
    "entry", COVERAGE["operations"], ids=lambda e: f"{e['method']} {e['path']}"
)
def test_documented_parameters_and_statuses(entry: dict[str, Any]) -> None:
    operation = _operation(entry["method"], entry["path"])
    parameters = {(p["name"], p["in"]): p for p in operation.get("parameters", [])}
    for documented in entry["parameters"]:
        key = (documented["name"], documented["in"])
        assert key in parameters, f"missing parameter {key}"
        assert parameters[key].get("required", False) == documented["required"], key
    assert set(entry["statuses"]) <= set(operation["responses"]), entry["statuses"]


def _has_field(schema: dict[str, Any], dotted: str) -> bool:
    node = schema
    for part in dotted.split("."):
        is_list = part.endswith("[]")
        name = part.removesuffix("[]")
        properties = dict(node.get("properties", {}))
        for part_schema in node.get("allOf", []):  # OrderItemResponse: an item and its tasks
            properties.update(part_schema.get("properties", {}))
        if name not in properties:
            return False
        node = properties[name]
        if is_list:
            if node.get("type") != "array":
                return False
            node = node["items"]
    return True


@pytest.mark.parametrize(
    "entry", COVERAGE["operations"], ids=lambda e: f"{e['method']} {e['path']}"
)
def test_documented_response_fields(entry: dict[str, Any]) -> None:
    schema = _success_schema(_operation(entry["method"], entry["path"]), entry.get("success"))
    missing = [field for field in entry["fields"] if not _has_field(schema, field)]
    assert not missing, missing


def test_coverage_is_complete() -> None:
    """100%: every documented parameter, status and field is found (summed over operations)."""
    total = found = 0
    for entry in COVERAGE["operations"]:
        operation = _operation(entry["method"], entry["path"])
        names = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
        schema = _success_schema(operation, entry.get("success"))
        checks = [(p["name"], p["in"]) in names for p in entry["parameters"]]
        checks += [status in operation["responses"] for status in entry["statuses"]]
        checks += [_has_field(schema, field) for field in entry["fields"]]
        total, found = total + len(checks), found + sum(checks)
    assert total > 200
    assert found == total, f"coverage {found}/{total}"


@pytest.mark.parametrize("operation", API.operations.values(), ids=lambda o: o.operation_id)
def test_every_operation_defines_200_400_403_with_error_envelopes(operation: Any) -> None:
    """200 (or the 201 of a documented creation, the 204 of a documented deletion), 400
    and, for secured operations, 403."""
    statuses = set(operation.responses)
    success = next(s for s in ("201", "204", "200") if s in statuses or s == "200")
    expected = {success, "400", "403"} if operation.secured else {success, "400"}
    if operation.path.startswith("/v0/blocks/{name}"):
        expected.add("404")
    assert expected <= statuses
    error_schema = API.resolved["components"]["schemas"]["Error"]
    for status, response in operation.responses.items():
        if status.startswith(("4", "5")):
            assert response["content"]["application/json"]["schema"] == error_schema


def test_links_chain_the_journey() -> None:
    def links(operation_id: str) -> set[str]:
        operation = API.operations[operation_id]
        return {
            link["operationId"] for link in operation.responses["200"].get("links", {}).values()
        }

    assert {"getJob", "downloadJob"} <= links("createJob")
    assert "downloadTask" in links("getJob")
    assert {"createJob", "getWorkflowCostEstimate", "listJobs"} <= links("getWorkflow")


# Lists a link may take the first element of: never empty (a job has at least one task).
NEVER_EMPTY = {"tasks"}


def test_no_link_assumes_a_first_element_of_a_list_that_can_be_empty() -> None:
    # A filtered page of workflows can be empty; a link into it fails a stateful run.
    expressions = [
        expression
        for operation in API.operations.values()
        for response in operation.responses.values()
        for link in response.get("links", {}).values()
        for expression in link.get("parameters", {}).values()
    ]
    assert expressions
    for expression in expressions:
        pointer = expression.removeprefix("$response.body#/").split("/")
        for name, index in itertools.pairwise(pointer):
            assert not index.isdigit() or name in NEVER_EMPTY, expression


def test_every_secured_operation_uses_the_authorization_api_key() -> None:
    scheme = API.resolved["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    secured = {op.operation_id for op in API.operations.values() if op.secured}
    assert secured == set(API.operations) - {"ping"}


def test_ids_are_uuids_and_pagination_is_bounded() -> None:
    for operation in API.operations.values():
        for parameter in operation.parameters:
            if parameter.name.endswith("_id") and parameter.name != "created_by":
                assert parameter.schema.get("format") == "uuid", parameter.name
            if parameter.name in ("limit", "offset", "page_num", "page_size"):
                assert "minimum" in parameter.schema and "maximum" in parameter.schema
