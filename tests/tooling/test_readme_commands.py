"""The local sections of docs/local-debugging.md, run as written (issue 12): every command of their
`bash` blocks against a live `make local`, and the README's `make demo` sample output against a real run.

The commands run from the repository root in a shell without PYTHONPATH or AWS credentials,
as a newcomer's would. The `aws` lines always run as the same calls through boto3, so that a
machine without the AWS CLI checks them too; with the CLI on the PATH they also run as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess

import boto3
import pytest

from local import demo
from local.server import HOST, LocalService
from local.template import ROOT

README = ROOT / "README.md"
LOCAL_DOC = ROOT / "docs" / "local-debugging.md"
LOCAL_SECTION = "## Run it locally and debug a batch"
NOT_RUN_FROM = "### Run the functions in `sam local start-api`"
"""That subsection needs Docker, SAM and an AWS account; its own test covers what runs here."""
DEPLOYMENT_ONLY = ("<api>", "<region>")
"""Placeholders of a deployed stack's URL: a line with them cannot run offline."""
SAMPLE_MARKER = "<!-- make demo's output as it is;"
DEMO_BATCH_ID = "01b02bdf-0001-7b58-0003-27d60056b5a6:1:0:0:0"


def local_sections() -> str:
    text = LOCAL_DOC.read_text(encoding="utf-8")
    start = text.index(LOCAL_SECTION)
    end = min(index for index in (text.find(NOT_RUN_FROM, start), text.find("\n## ", start + 1)) if index > 0)
    return text[start:end]


def bash_commands(section: str) -> list[str]:
    """Every command of the section's ```bash blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.strip():
                commands.append(command.strip())
    return commands


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def aws_through_boto3(command: str, environment: dict[str, str]) -> dict:
    """An `aws --endpoint-url URL SERVICE OPERATION --param value ...` line as the CLI would call it."""
    words = shlex.split(command.split(" #")[0])
    assert words[0] == "aws" and words[1] == "--endpoint-url", command
    endpoint, service, operation, arguments = words[2], words[3], words[4], words[5:]
    session = boto3.session.Session(environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"], region_name=environment["AWS_DEFAULT_REGION"])
    client = session.client(service, endpoint_url=endpoint)
    method = operation.replace("-", "_")
    model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[method])
    members = {name.lower(): (name, shape) for name, shape in model.input_shape.members.items()}
    parameters = {}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        name, shape = members[flag.removeprefix("--").replace("-", "")]
        parameters[name] = json.loads(value) if shape.type_name in ("structure", "map", "list") else value
    return getattr(client, method)(**parameters)


@pytest.fixture
def make_local():
    """`make local` on its documented ports when they are free, else on free ones (the commands' ports rewritten)."""
    lines: list[str] = []
    service = LocalService(port=3000 if port_is_free(3000) else 0, aws_port=5055 if port_is_free(5055) else 0, say=lines.append)
    service.start()
    yield service
    service.stop()


def test_every_command_of_the_local_sections_runs_as_written_against_make_local(make_local, tmp_path):
    commands = bash_commands(local_sections())
    shell = {key: value for key, value in os.environ.items() if key != "PYTHONPATH" and not key.startswith("AWS_")}
    shell["PATH"] = os.environ.get("PATH", "")
    has_cli = shutil.which("aws") is not None
    ran, through_boto3, skipped = [], 0, []
    execution_name = None
    for written in commands:
        if any(placeholder in written for placeholder in DEPLOYMENT_ONLY):
            skipped.append(written)
            continue
        command = written.replace("http://127.0.0.1:3000", make_local.url).replace("http://127.0.0.1:5055", make_local.aws_url)
        command = command.replace("<batch id>", DEMO_BATCH_ID).replace("<execution name>", execution_name or "<execution name>")
        if command.startswith("export "):
            shell.update(assignment.split("=", 1) for assignment in shlex.split(command)[1:])
            continue
        if command.startswith("aws "):
            answer = aws_through_boto3(command, shell)
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, command
            assert any(answer.get(key) for key in ("executions", "events", "Item")), (command, answer)
            through_boto3 += 1
            if not has_cli:
                continue
        finished = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env={**shell, "PORT": str(make_local.port), "AWS_PORT": str(make_local.aws_port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert finished.returncode == 0, f"{written}\n{finished.stdout[-2000:]}\n{finished.stderr[-2000:]}"
        ran.append(written)
        if "local demo --url" in command:
            execution_name = re.search(r"^Execution (\S+)$", finished.stdout, flags=re.M).group(1)
        if "local inspect" in command:
            assert "SUCCEEDED" in finished.stdout and "status ENDED" in finished.stdout, finished.stdout
    (root_results := ROOT / "results.csv").unlink(missing_ok=True)
    assert not root_results.exists()
    assert [line for line in skipped if "--sigv4" in line] == skipped and len(skipped) == 1, skipped
    assert through_boto3 >= 3, "the aws lines are checked, with or without the CLI"
    assert sum("local client" in line for line in ran) >= 4 and sum("local inspect" in line for line in ran) == 1, ran
    assert any("local demo --url" in line for line in ran)


def normalised(output: str) -> list[str]:
    """Lines without what changes from run to run: times and the stack's own free ports."""
    output = re.sub(r"\b\d+\.\d+s\b", "<seconds>s", output)
    output = re.sub(r"127\.0\.0\.1:(?!3000\b|5055\b)\d+", "127.0.0.1:<port>", output)
    return [line.rstrip() for line in output.strip().splitlines()]


def test_the_readme_sample_is_what_make_demo_prints(capsys, monkeypatch):
    monkeypatch.delenv("AWS_PORT", raising=False)
    text = README.read_text(encoding="utf-8")
    sample = re.search(re.escape(SAMPLE_MARKER) + r".*?-->\n```\n(.*?)```", text, flags=re.S).group(1)
    assert demo.main() == 0
    printed = capsys.readouterr().out
    assert normalised(printed) == normalised(sample), "README.md's make demo sample is stale: paste the real output"
