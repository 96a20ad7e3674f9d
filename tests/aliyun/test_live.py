"""Read-only calls against a real Direct Mail account; skipped unless MAILBRIDGE_TEST_ALIYUN_URL is set.

``MAILBRIDGE_TEST_ALIYUN_URL=aliyun://KEY_ID:SECRET@cn-hangzhou pytest -m live tests/aliyun/test_live.py``
(the shared test configuration clears ALIBABA_CLOUD_* variables, hence a URL of its own).
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

import mailbridge

URL = os.environ.get("MAILBRIDGE_TEST_ALIYUN_URL")
pytestmark = [pytest.mark.live, pytest.mark.skipif(not URL, reason="MAILBRIDGE_TEST_ALIYUN_URL is not set")]


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_read_only_views(signature: str) -> None:
    """Both signatures are accepted and every read-only view parses."""
    assert URL is not None
    url = URL + ("&" if "?" in URL else "?") + f"signature={signature}"
    with mailbridge.connect(url) as client:
        assert client.account().daily_quota is not None
        list(client.groups())
        client.domains()
        client.senders()
        client.tags()
        client.templates()
        list(client.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
