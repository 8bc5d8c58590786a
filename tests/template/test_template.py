"""template.yaml: what a deployment must keep for Snowflake and for a security review."""

import importlib
import re
import shlex
import tomllib

import pytest

from local.template import ROOT, Template

TEMPLATE = Template(parameter_overrides={"SnowflakeRoleArn": "arn:aws:iam::111122223333:role/snowflake-api"})


def resolved(value):
    names = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111122223333", "AWS::URLSuffix": "amazonaws.com"}
    return TEMPLATE.resolve(value, lambda logical_id, attribute: names.get(logical_id, f"<{logical_id}.{attribute}>"))


@pytest.mark.parametrize("require_key", ["false", "true"])
def test_both_methods_are_iam_signed_and_an_api_key_is_optional(require_key):
    source = Template(parameter_overrides={"SnowflakeRoleArn": "arn:aws:iam::111122223333:role/snowflake-api", "RequireApiKey": require_key})
    body = source.resolve(source.api_property("DefinitionBody"), lambda logical_id, attribute: f"<{logical_id}.{attribute}>")
    assert body["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    functions = {"post": "StartBatchFunction", "get": "PollBatchFunction"}
    for method, function in functions.items():
        operation = body["paths"]["/sentiment"][method]
        expected = [{"sigv4": [], "api_key": []}] if require_key == "true" else [{"sigv4": []}]
        assert operation["security"] == expected
        assert operation["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
        assert f"<{function}.Arn>" in operation["x-amazon-apigateway-integration"]["uri"]
    assert "DefaultAuthorizer" not in source.api_property("Auth"), "SAM's authorizer would overwrite the body's security"
    for name in ("SnowflakeApiKey", "SnowflakeUsagePlan", "SnowflakeUsagePlanKey"):
        assert source.resources[name]["Condition"] == "ApiKeyRequired"


def test_api_compresses_large_answers():
    assert 0 < TEMPLATE.api_property("MinimumCompressionSize") <= 1024 * 1024


def test_resource_policy_lets_the_snowflake_role_invoke_post_and_get():
    statements = resolved(TEMPLATE.api_property("Auth")["ResourcePolicy"])["CustomStatements"]
    (statement,) = [statement for statement in statements if statement["Effect"] == "Allow"]
    assert statement["Principal"]["AWS"] == "arn:aws:sts::111122223333:assumed-role/snowflake-api/snowflake"
    assert statement["Action"] == "execute-api:Invoke"
    assert sorted(statement["Resource"]) == ["execute-api:/*/GET/sentiment", "execute-api:/*/POST/sentiment"]


def test_post_and_get_share_the_path_snowflake_polls():
    routes = {(route.method, route.path) for route in TEMPLATE.routes()}
    assert routes == {("POST", "/sentiment"), ("GET", "/sentiment")}


@pytest.mark.parametrize("spec", TEMPLATE.functions(), ids=lambda spec: spec.logical_id)
def test_every_function_handler_imports(spec):
    assert callable(getattr(importlib.import_module(spec.module), spec.handler))


def test_functions_run_on_the_newest_python_on_arm64():
    function_globals = TEMPLATE.globals
    assert function_globals["Runtime"] == "python3.14"
    assert function_globals["Architectures"] == ["arm64"]
    for resource in TEMPLATE.of_type("AWS::Serverless::Function").values():
        assert "Runtime" not in resource["Properties"] and "Architectures" not in resource["Properties"]


def test_powertools_comes_from_the_aws_layer_for_that_runtime():
    layers = [resolved(layer) for layer in TEMPLATE.globals["Layers"]]
    assert any(re.fullmatch(r"arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:\d+", str(layer)) for layer in layers)


def test_the_tables_are_on_demand_with_ttl():
    tables = TEMPLATE.tables()
    assert set(tables) == {"ResultsTable", "ResultCacheTable"}
    for table in tables.values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert [key["AttributeName"] for key in tables["ResultsTable"]["KeySchema"]] == ["pk", "sk"]
    assert [key["AttributeName"] for key in tables["ResultCacheTable"]["KeySchema"]] == ["pk"], "the cache is read by its key alone"


def test_state_machine_is_standard_and_every_placeholder_is_substituted():
    _, machine = TEMPLATE.state_machine()
    assert machine["Type"] == "STANDARD"
    definition = TEMPLATE.state_machine_definition(lambda logical_id, attribute: f"arn:aws:lambda:us-east-1:1:function:{logical_id}")
    assert "${" not in definition


def test_outputs_give_the_url_and_the_state_machine():
    outputs = TEMPLATE.document["Outputs"]
    assert resolved(outputs["SentimentUrl"]["Value"]).endswith("/v1/sentiment")
    assert outputs["StateMachineArn"]["Value"] == {"Ref": "SentimentStateMachine"}


def test_samconfig_sets_only_parameters_the_template_has():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = dict(item.split("=", 1) for item in shlex.split(config["default"]["deploy"]["parameters"]["parameter_overrides"]))
    assert overrides and set(overrides) <= set(TEMPLATE.parameters)
