"""Read template.yaml the way the offline stack needs it: functions, routes, table, state machine.

Only what CloudFormation would resolve at deploy time is resolved here: `Ref` to a
parameter (its default, or an override), `Ref`/`GetAtt` to a resource (through a lookup
the stack supplies), `Sub`, `Select` and `Split`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

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

    def table(self) -> tuple[str, dict]:
        ((name, resource),) = self.of_type("AWS::DynamoDB::Table").items()
        return name, resource["Properties"]

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

    def resolve(self, value: Any, resolve: Resolver) -> Any:
        """Evaluate the intrinsic functions in `value`."""
        if isinstance(value, list):
            return [self.resolve(item, resolve) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item, resolve) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument in self.parameters:
                return self.parameters[argument]
            return resolve(argument, None)
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
