"""Read-only checks against a real Tencent Cloud account; skipped unless credentials are set.

Run with ``TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... pytest -m live tests/tencent``
(``TENCENTCLOUD_REGION`` defaults to ap-guangzhou). Nothing is created, changed or sent.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

import mailbridge

# Read at import: the shared conftest removes TENCENTCLOUD_* from each test's environment.
SECRET_ID = os.environ.get("TENCENTCLOUD_SECRET_ID", "")
SECRET_KEY = os.environ.get("TENCENTCLOUD_SECRET_KEY", "")
REGION = os.environ.get("TENCENTCLOUD_REGION", "ap-guangzhou")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not (SECRET_ID and SECRET_KEY), reason="TENCENTCLOUD_SECRET_ID/KEY not set"),
]


@pytest.fixture
def client() -> mailbridge.Client:
    return mailbridge.connect(f"tencent://{SECRET_ID}:{SECRET_KEY}@{REGION}")


def test_live_read_only_views(client: mailbridge.Client) -> None:
    """Groups, domains, senders, statistics and today's delivery log can be read."""
    assert all(g.provider == "tencent" for g in client.groups())
    for domain in client.domains():
        assert client.domain(domain.name).name == domain.name
    client.senders()
    client.statistics(dt.date.today() - dt.timedelta(days=2), dt.date.today())
    list(client.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))


def test_live_wrong_key_is_an_authentication_error() -> None:
    with pytest.raises(mailbridge.AuthenticationError):
        list(mailbridge.connect(f"tencent://{SECRET_ID}:not-the-key@{REGION}").groups())
