"""Pins: the hashed lock files hold exactly the pinned versions, and the deployed Powertools layer is the tested release."""

from __future__ import annotations

import re

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from local.template import ROOT, Template

# Which Powertools release each version of the layer AWSLambdaPowertoolsPythonV3-python314-arm64 holds.
LAYER_SOURCE = (
    "aws-powertools/powertools-lambda-python: Powertools publishes one layer version per final release, one number for "
    "every {python_version}-{arch} layer, python314-arm64 included. Seen in its maintainers' pull requests #5426 "
    "(v3.2.0 is layer 3), #5785 (v3.4.0 is 5), #5869 (v3.4.1 is 6) and in its install examples right after a release "
    "(layer 12 after v3.10.0 at commit 18f271f, 25 after v3.22.0 at 0219b40, 34 after v3.30.0 at 1dbd1c3). "
    "The later versions count the final releases on PyPI since 3.30.0 (3.32.0 and 3.33.0 were never published). "
    "To confirm one: aws lambda get-layer-version-by-arn names the release in the layer's Description, "
    "and SSM /aws/service/powertools/python/arm64/python3.14/<release> holds its ARN."
)
LAYER_RELEASES = {
    34: "3.30.0",
    35: "3.31.0",
    36: "3.31.1",
    37: "3.34.0",
    38: "3.35.0",
    39: "3.36.0",
    40: "3.37.0",
}
LOCKS = {"requirements-dev.lock": "constraints.txt", "requirements-checkov.lock": "constraints-checkov.txt"}


def pins(path: str) -> dict[str, str]:
    """name -> version of a pin list's `name==version` lines (extras dropped)."""
    found = {}
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        requirement = line.split("#")[0].strip()
        if requirement:
            name, version = requirement.split("==")
            found[canonicalize_name(name.split("[")[0])] = version
    return found


def locked(path: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a pip-compile --generate-hashes file; every requirement line must parse."""
    text = (ROOT / path).read_text(encoding="utf-8")
    entries = {
        canonicalize_name(match[1]): (match[2], re.findall(r"sha256:([0-9a-f]{64})", match[3]))
        for match in re.finditer(r"^([A-Za-z0-9][\w.-]*)==(\S+)((?: \\\n +--hash=sha256:[0-9a-f]{64})*)$", text, re.M)
    }
    requirement_lines = [line for line in text.splitlines() if line and not line[0].isspace() and not line.startswith("#")]
    assert len(requirement_lines) == len(entries), f"{path}: a requirement that is not name==version with hashes"
    return entries


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_each_lock_hashes_exactly_the_pinned_versions(lock):
    entries = locked(lock)
    assert {name: version for name, (version, _) in entries.items()} == pins(LOCKS[lock]), f"run make lock after changing {LOCKS[lock]}"
    assert all(hashes for _, hashes in entries.values())


def test_top_level_tools_are_locked_at_their_pins():
    entries = locked("requirements-dev.lock")
    assert {name: entries[name][0] for name in pins("requirements-dev.txt")} == pins("requirements-dev.txt")


def test_make_installs_both_virtualenvs_from_the_locks_with_hashes_required():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for stamp, lock in (("$(STAMP)", "requirements-dev.lock"), ("$(CHECKOV_STAMP)", "requirements-checkov.lock")):
        rule = re.search(rf"^{re.escape(stamp)}:(.*)\n((?:\t.*\n)+)", makefile, re.M)
        assert rule and lock in rule[1]
        installs = [line for line in rule[2].splitlines() if "pip install" in line]
        assert installs and all("--require-hashes" in line and "--only-binary :all:" in line and f"-r {lock}" in line for line in installs)
        assert "pip check" in rule[2], "with --no-deps, pip check is what proves the lock complete"


def test_default_powertools_layer_holds_the_tested_release():
    parameter = Template().document["Parameters"]["PowertoolsLayerVersion"]
    tested = locked("requirements-dev.lock")["aws-lambda-powertools"][0]
    assert LAYER_RELEASES[int(parameter["Default"])] == tested
    assert f"default, {parameter['Default']}, holds Powertools {tested}" in parameter["Description"]


def test_layer_mapping_names_its_source_and_counts_one_version_per_release():
    assert "aws-powertools/powertools-lambda-python" in LAYER_SOURCE and "PyPI" in LAYER_SOURCE
    layers = sorted(LAYER_RELEASES)
    assert layers == list(range(layers[0], layers[-1] + 1))
    releases = [Version(LAYER_RELEASES[layer]) for layer in layers]
    assert releases == sorted(releases) and len(set(releases)) == len(releases)
