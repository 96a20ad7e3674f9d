"""Backends are found only through stevedore entry points, third-party ones included."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mailbridge
from mailbridge._registry import PROVIDER_GROUP

ROOT = Path(__file__).resolve().parents[2]


def test_builtin_local_is_registered_like_any_plugin() -> None:
    providers = mailbridge.available_providers()
    assert "local" in providers
    assert providers["local"].__module__.startswith("mailbridge_local")


def test_unknown_provider_says_what_to_install() -> None:
    with pytest.raises(mailbridge.ProviderNotInstalled, match=r"pip install mailbridge-nosuch.*mailbridge\.providers"):
        mailbridge.connect("nosuch://x")


def test_allow_list_limits_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBRIDGE_PROVIDERS", "aliyun")
    assert "local" not in mailbridge.available_providers()
    with pytest.raises(mailbridge.ProviderNotInstalled, match="MAILBRIDGE_PROVIDERS"):
        mailbridge.connect("local://x")


TOY_MODULE = """
from mailbridge import Backend, Limits, Page, SendReceipt, Group, BatchResult

class ToyBackend(Backend):
    name = "toy"
    display_name = "Toy Mail"
    limits = Limits(upload_batch_size=2, recipients_per_send=1, features={"text_body"})

    @classmethod
    def from_url(cls, url):
        inst = cls()
        inst.host = url.host
        return inst

    def create_group(self, name, description=None):
        return Group(id="g1", name=name, provider=self.name)

    def list_groups(self, *, keyword, cursor, page_size):
        return Page([Group(id="g1", name="toy-list", provider=self.name)])

    def delete_group(self, group):
        pass

    def upload_batch(self, group, recipients):
        return BatchResult(accepted=[r.email for r in recipients])

    def list_members(self, group, *, cursor, page_size):
        return Page([])

    def send(self, message):
        return SendReceipt(self.name, ["toy-" + message.to[0]], message.to)

    def query_deliveries(self, query, *, cursor, page_size):
        return Page([])
"""


def test_third_party_provider_from_a_temporary_distribution(tmp_path: Path) -> None:
    """A distribution installed on sys.path that declares an entry point is used with no change to mailbridge/."""
    (tmp_path / "toy_mail.py").write_text(TOY_MODULE)
    info = tmp_path / "toy_mail-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-mail\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{PROVIDER_GROUP}]\ntoy = toy_mail:ToyBackend\n")
    script = textwrap.dedent(
        """
        import json, mailbridge
        client = mailbridge.connect("toy://somewhere")
        report = client.upload("toy-list", ["a@example.com", "b@example.com", "c@example.com"])
        base = mailbridge.Message(sender="me@example.com", to=["x@example.com"], subject="s", text="t")
        outcomes = client.send_many(base.evolve(to=[a]) for a in ["x@example.com", "y@example.com"])
        ids = [m for o in outcomes for m in o.result.message_ids]
        print(json.dumps({"providers": sorted(mailbridge.available_providers()), "batches": report.batches,
                          "ids": ids, "host": client.backend.host}))
        """
    )
    env = {"PYTHONPATH": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    import json

    data = json.loads(out.stdout)
    assert "toy" in data["providers"] and "local" in data["providers"]
    assert data["batches"] == 2  # chunked by the toy's declared limit of 2
    assert data["ids"] == ["toy-x@example.com", "toy-y@example.com"]  # one private copy each
    assert data["host"] == "somewhere"


def test_core_never_imports_a_backend_module() -> None:
    """No module under mailbridge/ imports a plugin package, and importing the core loads none."""
    plugin_names = {p.name for p in (ROOT / "plugins").iterdir() if p.is_dir() and p.name.startswith("mailbridge_")}
    assert "mailbridge_local" in plugin_names
    for path in (ROOT / "mailbridge").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in plugin_names, f"{path} imports {name}"
    code = "import sys, mailbridge, mailbridge.cli; print([m for m in sys.modules if m.startswith('mailbridge_')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_connect_loads_only_the_requested_backend() -> None:
    """A Direct Mail user never imports the Tencent SDK (cold start, issue 13)."""
    code = (
        "import sys, mailbridge\n"
        "mailbridge.connect('aliyun://LTAI5tMailbridgeTestKeyId:s3cret@cn-hangzhou')\n"
        "print(sorted(m for m in ('tencentcloud', 'mailbridge_tencent', 'requests') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_blocking_client_loads_no_async_or_http_machinery_until_it_needs_it() -> None:
    """Cold start (issue 13): asyncio (~15 ms), the upload writer's thread pool, httpx and stamina load on first use."""
    code = (
        "import sys, mailbridge\n"
        "mailbridge.connect('aliyun://LTAI5tMailbridgeTestKeyId:s3cret@cn-hangzhou')\n"
        "heavy = ('asyncio', 'concurrent.futures', 'httpx', 'stamina', 'mailbridge._upload_writer')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
