"""template.yaml as CloudFormation would create it, checked without an account.

SAM's own translator (the AWS::Serverless-2016-10-31 transform, run offline) turns the template
into plain CloudFormation for each meaningful parameter set, and every intrinsic function is
then resolved strictly, as CloudFormation would at create time. What cfn-lint and
`sam validate` do not see is checked here: every name, attribute, resource type and property
exists; the state machine definition as deployed is JSON; the API's OpenAPI body is valid
Swagger 2.0; the API has one stage; every IAM policy has a Version; no VPC endpoint id is blank.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from local.template import ROOT, TEMPLATE

REGION = "us-east-1"
ROLE = "arn:aws:iam::111122223333:role/snowflake-api"
PSEUDO = {
    "AWS::AccountId": "111122223333",
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::StackName": "sentiment",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/sentiment/0",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": [],
}
PARAMETER_SETS = {
    "defaults": {"SnowflakeRoleArn": ROLE},
    "every-option": {
        "SnowflakeRoleArn": ROLE,
        "SnowflakeVpcId": "vpc-0abc1234",
        "ApiVpcEndpointIds": "vpce-0aaa1111,vpce-0bbb2222",
        "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "RequireApiKey": "true",
        "AlarmEmail": "ops@example.com",
        "StateMachineLogLevel": "ALL",
    },
    "private-without-endpoint-ids": {"SnowflakeRoleArn": ROLE, "SnowflakeVpcId": "vpc-0abc1234"},
}
NO_VALUE = object()
"""Ref AWS::NoValue: the enclosing key or list item is dropped."""


class Undeployable(AssertionError):
    pass


def transformed(overrides: dict[str, str]) -> dict:
    """The CloudFormation template the SAM transform makes of template.yaml, local paths as `sam package` uploads them."""
    document, problems = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not problems, problems
    document = json.loads(json.dumps(document))
    for resource in document["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key]}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    return translator.translate(document, dict(overrides), get_managed_policy_map=dict)


class Deployment:
    """A transformed template with its parameters bound: the resources and outputs CloudFormation would create."""

    def __init__(self, template: dict, overrides: dict[str, str]):
        self.template = template
        declared = template.get("Parameters", {})
        assert set(overrides) <= set(declared), f"unknown parameters {set(overrides) - set(declared)}"
        self.parameters: dict[str, Any] = {}
        for name, spec in declared.items():
            value = str(overrides.get(name, spec.get("Default")))
            if "AllowedValues" in spec:
                assert value in [str(allowed) for allowed in spec["AllowedValues"]], f"{name}={value!r}"
            if "AllowedPattern" in spec:
                assert re.fullmatch(spec["AllowedPattern"], value), f"{name}={value!r}"
            # A CommaDelimitedList of "" is [""], not []: CloudFormation splits the text as given.
            self.parameters[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
        self._conditions: dict[str, bool] = {}
        self.types = {name: resource["Type"] for name, resource in template["Resources"].items()}
        active = {name: resource for name, resource in template["Resources"].items() if "Condition" not in resource or self.condition(resource["Condition"])}
        self.active = set(active)
        self.resources = {name: self.resolve(resource, f"Resources.{name}") for name, resource in active.items()}
        outputs = template.get("Outputs", {}).items()
        self.outputs = {
            name: self.resolve(output, f"Outputs.{name}") for name, output in outputs if "Condition" not in output or self.condition(output["Condition"])
        }

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {name: resource for name, resource in self.resources.items() if resource["Type"] == resource_type}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions", {})
            if name not in conditions:
                raise Undeployable(f"condition {name} is not declared")
            self._conditions[name] = self.resolve(conditions[name], f"Conditions.{name}")
            if not isinstance(self._conditions[name], bool):
                raise Undeployable(f"condition {name} is not a boolean: {self._conditions[name]!r}")
        return self._conditions[name]

    def ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO:
            return PSEUDO[name]
        self.resource(name, where)
        return f"<{name}>"

    def resource(self, name: str, where: str) -> str:
        if name not in self.types:
            raise Undeployable(f"{where}: {name} is neither a parameter, a pseudo parameter nor a resource")
        if name not in self.active:
            raise Undeployable(f"{where}: {name} is not created with these parameters")
        return self.types[name]

    def get_att(self, name: str, attribute: str, where: str) -> str:
        resource_type = self.resource(name, where)
        if attribute not in PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).get_atts:
            raise Undeployable(f"{where}: {resource_type} has no attribute {attribute}")
        return f"<{name}.{attribute}>"

    def sub(self, argument: Any, where: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {key: self.resolve(value, where) for key, value in variables.items()}

        def substitute(match: re.Match) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in values:
                value = values[token]
            elif "." in token and token not in PSEUDO:
                value = self.get_att(*token.split(".", 1), where)
            else:
                value = self.ref(token, where)
            if not isinstance(value, str):
                raise Undeployable(f"{where}: ${{{token}}} is not a string: {value!r}")
            return value

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    def resolve(self, value: Any, where: str) -> Any:
        """Every intrinsic function evaluated as CloudFormation would; anything it would refuse raises."""
        if isinstance(value, list):
            return [item for item in (self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument, where)
            if function == "Condition":
                return self.condition(argument)
            if function.startswith("Fn::"):
                return self.function(function, argument, f"{where}.{function}")
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def function(self, function: str, argument: Any, where: str) -> Any:
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false, where)
        if function == "Fn::GetAtt":
            name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(name, attribute, where)
        if function == "Fn::Sub":
            return self.sub(argument, where)
        arguments = self.resolve(argument, where)
        if function == "Fn::Equals":
            left, right = arguments
            return left == right
        if function == "Fn::Not":
            (operand,) = arguments
            return not operand
        if function in ("Fn::And", "Fn::Or"):
            if not 2 <= len(arguments) <= 10 or not all(isinstance(item, bool) for item in arguments):
                raise Undeployable(f"{where}: takes 2 to 10 conditions")
            return all(arguments) if function == "Fn::And" else any(arguments)
        if function == "Fn::Join":
            delimiter, items = arguments
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise Undeployable(f"{where}: joins only a list of strings, not {items!r}")
            return delimiter.join(items)
        if function == "Fn::Split":
            delimiter, source = arguments
            if not isinstance(source, str):
                raise Undeployable(f"{where}: splits only a string, not {source!r}")
            return source.split(delimiter)
        if function == "Fn::Select":
            index, items = arguments
            if not isinstance(items, list) or not 0 <= int(index) < len(items):
                raise Undeployable(f"{where}: index {index} out of {items!r}")
            return items[int(index)]
        raise Undeployable(f"{where}: {function} is not resolved by this check")


@functools.cache
def deployed(name: str) -> Deployment:
    return Deployment(transformed(PARAMETER_SETS[name]), PARAMETER_SETS[name])


def walk(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    yield where, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{where}[{index}]")


SWAGGER_FIELDS = {
    "swagger",
    "info",
    "host",
    "basePath",
    "schemes",
    "consumes",
    "produces",
    "paths",
    "definitions",
    "parameters",
    "responses",
    "securityDefinitions",
    "security",
    "tags",
    "externalDocs",
}
OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch"}


def swagger_problems(body: dict) -> list[str]:
    """What makes `body` invalid Swagger 2.0 (the structure API Gateway imports), as far as this API uses it."""
    problems = [f"unknown field {key}" for key in body if key not in SWAGGER_FIELDS and not key.startswith("x-")]
    if body.get("swagger") != "2.0":
        problems.append("swagger is not '2.0'")
    info = body.get("info")
    for field in ("title", "version"):
        if not isinstance(info, dict) or not isinstance(info.get(field), str) or not info[field]:
            problems.append(f"info.{field} is missing")
    definitions = body.get("securityDefinitions", {})
    if not isinstance(body.get("paths"), dict) or not body["paths"]:
        problems.append("paths is missing")
    for path, item in (body.get("paths") or {}).items():
        if not path.startswith("/"):
            problems.append(f"path {path} does not start with /")
        for method, operation in item.items():
            if method not in OPERATIONS:
                if not method.startswith("x-") and method != "parameters":
                    problems.append(f"{path}: unknown field {method}")
                continue
            responses = operation.get("responses")
            if not isinstance(responses, dict) or not responses:
                problems.append(f"{method} {path}: responses is missing")
            for code, response in (responses or {}).items():
                if code != "default" and not re.fullmatch(r"[1-5][0-9][0-9]", str(code)):
                    problems.append(f"{method} {path}: response code {code!r}")
                if not isinstance(response, dict) or not isinstance(response.get("description"), str):
                    problems.append(f"{method} {path}: response {code} has no description")
            for requirement in operation.get("security", []):
                problems.extend(f"{method} {path}: security {name} is not defined" for name in requirement if name not in definitions)
    return problems


sets = pytest.mark.parametrize("name", sorted(PARAMETER_SETS))


@sets
def test_every_intrinsic_resolves_against_what_is_created(name):
    deployment = deployed(name)
    assert deployment.resources and deployment.outputs
    for resource_name, resource in deployment.resources.items():
        for dependency in [resource["DependsOn"]] if isinstance(resource.get("DependsOn"), str) else resource.get("DependsOn", []):
            deployment.resource(dependency, f"Resources.{resource_name}.DependsOn")


@sets
def test_every_resource_is_a_cloudformation_type_with_only_its_properties(name):
    for resource_name, resource in deployed(name).resources.items():
        try:
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource["Type"]).schema
        except ResourceNotFoundError:
            pytest.fail(f"{resource_name}: {resource['Type']} is not a CloudFormation resource type in {REGION}")
        properties = set(resource.get("Properties", {}))
        read_only = {pointer.split("/")[2] for pointer in schema.get("readOnlyProperties", [])}
        assert properties <= set(schema["properties"]), f"{resource_name}: {properties - set(schema['properties'])} not in {resource['Type']}"
        assert set(schema.get("required", [])) <= properties, f"{resource_name}: lacks {set(schema['required']) - properties}"
        assert not properties & read_only, f"{resource_name}: sets read-only {properties & read_only}"


@sets
def test_the_deployed_state_machine_definition_is_complete_json(name):
    deployment = deployed(name)
    (machine,) = deployment.of_type("AWS::StepFunctions::StateMachine").values()
    properties = machine["Properties"]
    location = properties["DefinitionS3Location"]
    text = (ROOT / location["Key"]).read_text(encoding="utf-8")
    for key, value in properties.get("DefinitionSubstitutions", {}).items():
        assert isinstance(value, str), f"substitution {key} is {value!r}"
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, re.findall(r"\$\{[^}]*\}", text)
    definition = json.loads(text)
    tasks = {state["Resource"] for _, state in walk(definition) if isinstance(state, dict) and state.get("Type") == "Task" and "Resource" in state}
    functions = {f"<{function}.Arn>" for function in ("PlanChunksFunction", "AnalyzeChunksFunction", "AnalyzePooledChunksFunction", "AssembleResultsFunction")}
    assert tasks & functions == functions, tasks


@sets
def test_the_api_body_is_valid_swagger_2(name):
    (api,) = deployed(name).of_type("AWS::ApiGateway::RestApi").values()
    assert swagger_problems(api["Properties"]["Body"]) == []


def test_the_swagger_check_catches_what_api_gateway_rejects():
    body = {"swagger": "2.0", "info": {"title": "t"}, "paths": {"/s": {"get": {"security": [{"sigv4": []}]}}}}
    assert swagger_problems(body) == ["info.version is missing", "get /s: responses is missing", "get /s: security sigv4 is not defined"]


@sets
def test_the_api_has_one_stage_v1(name):
    deployment = deployed(name)
    stages = [stage["Properties"]["StageName"] for stage in deployment.of_type("AWS::ApiGateway::Stage").values()]
    # A Deployment with a StageName creates that stage too, outside the Stage resource's settings.
    stages += [api["Properties"]["StageName"] for api in deployment.of_type("AWS::ApiGateway::Deployment").values() if "StageName" in api["Properties"]]
    assert stages == ["v1"]


@sets
def test_every_policy_document_says_its_version(name):
    documents = [(where, value) for where, value in walk(deployed(name).resources) if isinstance(value, dict) and "Statement" in value]
    assert len(documents) >= 10
    assert [where for where, document in documents if document.get("Version") != "2012-10-17"] == []


@sets
def test_no_vpc_endpoint_id_is_blank(name):
    for where, value in walk(deployed(name).resources):
        if where.rsplit(".", 1)[-1].lower() == "vpcendpointids":
            assert isinstance(value, list) and value and all(re.fullmatch(r"vpce-[0-9a-f]+", item) for item in value), f"{where}: {value!r}"


def test_a_private_endpoint_without_endpoint_ids_names_none():
    (api,) = deployed("private-without-endpoint-ids").of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["PRIVATE"]}
    (api,) = deployed("every-option").of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": ["vpce-0aaa1111", "vpce-0bbb2222"]}
    (api,) = deployed("defaults").of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_the_every_option_set_creates_every_optional_resource():
    created = set(deployed("every-option").resources)
    assert {"SnowflakeApiKey", "SnowflakeUsagePlan", "SnowflakeUsagePlanKey", "AlarmEmailSubscription"} <= created
    assert not {"SnowflakeApiKey", "AlarmEmailSubscription"} & set(deployed("defaults").resources)
