"""The emulator's own API: URL, loopback only, command-line options, faults over HTTP, state, the CLI."""

from __future__ import annotations

import json
import urllib.request

import pytest
from mailbridge_tencent import TencentBackend
from mailbridge_tencent.emulator import OPTIONS, TEST_SECRET_ID, TEST_SECRET_KEY, Fault, TencentEmulator, serve

import mailbridge
from mailbridge.testing.emulator import parse_options

from ._support import connect

CREDS = f"{TEST_SECRET_ID}:{TEST_SECRET_KEY}"


def test_emulator_url_and_loopback_only() -> None:
    with TencentEmulator(port=0) as emu:
        assert emu.url == f"tencent://{CREDS}@ap-guangzhou?endpoint=http://127.0.0.1:{emu.port}"
    with pytest.raises(ValueError, match="loopback"):
        TencentEmulator("0.0.0.0")
    with pytest.raises(mailbridge.ConfigurationError, match="loopback"):
        serve(host="192.0.2.1")


def test_emulator_options_from_the_command_line() -> None:
    options = {"upload_delay": "2.5", "rate": "5", "allow_simple": "no", "domains": "a.com,b.com"}
    assert parse_options(options, OPTIONS) == {
        "upload_delay": 2.5,
        "rate": 5,
        "allow_simple": False,
        "domains": ["a.com", "b.com"],
    }
    with pytest.raises(mailbridge.ConfigurationError, match="unknown emulator option"):
        parse_options({"colour": "red"}, OPTIONS)
    with pytest.raises(mailbridge.ConfigurationError, match="not valid"):
        parse_options({"rate": "many"}, OPTIONS)


def test_fault_control_endpoint_and_state(emu: TencentEmulator) -> None:
    """Faults can be injected over HTTP (for the CLI emulator), and state read back."""
    request = urllib.request.Request(
        emu.endpoint + "/_emulator/faults",
        data=json.dumps({"kind": "error", "action": "ListReceivers", "code": "InternalError"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    assert emu.faults == [Fault(kind="error", action="ListReceivers", code="InternalError")]
    with connect(emu.url) as client:
        with pytest.raises(mailbridge.ProviderUnavailable):
            client.backend.list_groups(keyword=None, cursor=None, page_size=10)
        client.create_group("visible")
    with urllib.request.urlopen(emu.endpoint + "/_emulator/state") as response:
        state = json.loads(response.read())
    assert [g["ReceiversName"] for g in state["groups"]] == ["visible"]
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject("explode")


def test_unknown_action_and_parameter(emu: TencentEmulator) -> None:
    with connect(emu.url) as client:
        b = client.backend
        assert isinstance(b, TencentBackend)
        with pytest.raises(mailbridge.ConfigurationError) as info:
            b._call("DescribeInstances", {})
        assert info.value.provider_code == "InvalidAction"
        with pytest.raises(mailbridge.InvalidRequest) as info2:
            b._call("ListReceivers", {"Offset": 0, "Limit": 10, "Colour": "red"})
        assert info2.value.provider_code == "UnknownParameter"
        with pytest.raises(mailbridge.InvalidRequest) as info3:
            b._call("ListReceivers", {"Offset": 0, "Limit": 101})
        assert info3.value.provider_code == "FailedOperation.InvalidLimit"


def test_cli_emulator_prints_a_working_url() -> None:
    """`mailbridge emulator tencent --port 0` serves until stopped and prints the URL on stderr."""
    import subprocess
    import sys

    code = "import sys; from mailbridge.cli import main; sys.argv = ['mailbridge', *sys.argv[1:]]; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "emulator", "tencent", "--port", "0", "--option", "upload_delay=0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = iter(process.stderr.readline, "")
        url = next(line for line in lines if line.startswith("MAILBRIDGE_URL=")).split("=", 1)[1].strip()
        assert url.startswith(f"tencent://{CREDS}@ap-guangzhou?endpoint=http://127.0.0.1:")
        with connect(url) as client:
            assert client.create_group("from-cli").name == "from-cli"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
