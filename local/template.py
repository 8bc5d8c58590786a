"""Read template.yaml the way the offline stack needs it: functions, routes, table, state machine.

Only what CloudFormation would resolve at deploy time is resolved here: `Ref` to a
parameter (its default, or an override), `Ref`/`GetAtt` to a resource (through a lookup
the stack supplies), `Sub`, `Select` and `Split`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

NO_VALUE = object()
"""What Ref AWS::NoValue resolves to: the enclosing key or list item is dropped."""

Resolver = Callable[[str, str | None], str]
"""(logical id, attribute or None for Ref) -> the resource's deployed value."""


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    module: str
    """Import path of the handler module, e.g. functions.start_batch.app."""
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, Any] = field(default_factory=dict)


def parameter_overrides(text: str) -> dict[str, str]:
    """Template parameter overrides written as `sam deploy --parameter-overrides` takes them:
    `Key=Value Key2=Value2`, or `ParameterKey=Key,ParameterValue=Value ...`."""
    overrides: dict[str, str] = {}
    for item in text.split():
        if item.startswith("ParameterKey="):
            fields = dict(part.split("=", 1) for part in item.split(","))
            overrides[fields["ParameterKey"]] = fields.get("ParameterValue", "")
        elif "=" in item:
            key, value = item.split("=", 1)
            overrides[key] = value
        else:
            raise ValueError(f"parameter override {item!r} is not Key=Value")
    return overrides


class Template:
    def __init__(self, path: Path = TEMPLATE, parameter_overrides: dict[str, str] | None = None):
        text = path.read_text(encoding="utf-8")
        document, problems = decode_str(text)
        if problems:
            raise ValueError(f"{path} does not parse: {problems}")
        self.path = path
        self.document: dict = document
        self.resources: dict = document["Resources"]
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()}
        self.parameters.update(parameter_overrides or {})
        self.globals: dict = document.get("Globals", {}).get("Function", {})

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {name: resource for name, resource in self.resources.items() if resource["Type"] == resource_type}

    def functions(self) -> list[FunctionSpec]:
        specs = []
        for name, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            module_file, handler = props["Handler"].rsplit(".", 1)
            package = ".".join(Path(props["CodeUri"]).parts)
            environment = {**self.globals.get("Environment", {}).get("Variables", {}), **props.get("Environment", {}).get("Variables", {})}
            specs.append(
                FunctionSpec(
                    logical_id=name,
                    module=f"{package}.{module_file}",
                    handler=handler,
                    memory_mb=int(props.get("MemorySize", self.globals.get("MemorySize", 128))),
                    timeout_s=int(props.get("Timeout", self.globals.get("Timeout", 3))),
                    environment=environment,
                )
            )
        return specs

    def routes(self) -> list[Route]:
        routes = []
        for name, resource in self.of_type("AWS::Serverless::Function").items():
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] == "Api":
                    routes.append(Route(event["Properties"]["Method"].upper(), event["Properties"]["Path"], name))
        return routes

    def api_property(self, name: str) -> Any:
        (api,) = self.of_type("AWS::Serverless::Api").values()
        return api["Properties"].get(name)

    def tables(self) -> dict[str, dict]:
        return {name: resource["Properties"] for name, resource in self.of_type("AWS::DynamoDB::Table").items()}

    def state_machine(self) -> tuple[str, dict]:
        ((name, resource),) = self.of_type("AWS::Serverless::StateMachine").items()
        return name, resource["Properties"]

    def state_machine_definition(self, resolve: Resolver) -> str:
        """The definition exactly as deployed: DefinitionSubstitutions applied to DefinitionUri."""
        _, props = self.state_machine()
        text = (self.path.parent / props["DefinitionUri"]).read_text(encoding="utf-8")
        substitutions = {key: str(self.resolve(value, resolve)) for key, value in props.get("DefinitionSubstitutions", {}).items()}
        unknown = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)) - substitutions.keys()
        if unknown:
            raise ValueError(f"state machine placeholders without a substitution: {sorted(unknown)}")
        definition = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda match: substitutions[match.group(1)], text)
        json.loads(definition)
        return definition

    def condition(self, name: str, resolve: Resolver) -> bool:
        return bool(self.resolve(self.document.get("Conditions", {})[name], resolve))

    def resolve(self, value: Any, resolve: Resolver) -> Any:
        """Evaluate the intrinsic functions and conditions in `value`; AWS::NoValue drops the key."""
        if isinstance(value, list):
            return [item for item in (self.resolve(item, resolve) for item in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            resolved = {key: self.resolve(item, resolve) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return NO_VALUE
            if argument in self.parameters:
                spec = self.document.get("Parameters", {}).get(argument, {})
                text = self.parameters[argument]
                return [item for item in text.split(",") if item] if spec.get("Type") == "CommaDelimitedList" else text
            return resolve(argument, None)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name, resolve) else when_false, resolve)
        if function == "Fn::Equals":
            left, right = (self.resolve(item, resolve) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(argument[0], resolve)
        if function == "Condition":
            return self.condition(argument, resolve)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return resolve(logical_id, attribute)
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(items, resolve)[int(self.resolve(index, resolve))]
        if function == "Fn::Split":
            delimiter, source = argument
            return str(self.resolve(source, resolve)).split(delimiter)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            values = {key: str(self.resolve(item, resolve)) for key, item in variables.items()}

            def substitute(match: re.Match) -> str:
                token = match.group(1)
                if token in values:
                    return values[token]
                if "." in token:
                    logical_id, attribute = token.split(".", 1)
                    return str(resolve(logical_id, attribute))
                return str(self.resolve({"Ref": token}, resolve))

            return re.sub(r"\$\{([A-Za-z0-9_:.]+)\}", substitute, text)
        return {function: self.resolve(argument, resolve)}
