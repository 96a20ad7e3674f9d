"""The emulator pushes Direct Mail events as EventBridge would (reference part 2, 1.2).

For each recorded delivery: a CloudEvents 1.0 envelope (``id``, ``source`` ``acs:dm``, ``type``
``dm:Deliver:Succeed`` or ``dm:Deliver:Fail``, ``subject`` ``acs:dm:<region>:<account>:*``,
``time`` with ``+08:00``, the ``aliyun*`` attributes, ``aliyunpublishtime`` in its non-ISO
``...PRC`` form) around the documented ``data`` fields (``env_id``, ``rcpt``, ``from``, ``tag``,
``send_time``/``deliver_time`` without offset, and for failures ``status``, ``failed_type``,
``err_code``, ``err_msg``). With a signing key, each push carries the v2 signature headers.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

from mailbridge import CHINA_TIME
from mailbridge._push import EventPusher

__all__ = ["DEFAULT_ACCOUNT", "cloudevent", "start_pusher"]

CST = CHINA_TIME
DEFAULT_ACCOUNT = "1234567890123456"


def _cst(ts: float, fmt: str = "%Y-%m-%dT%H:%M:%S") -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime(fmt)


def cloudevent(record: Any, *, region: str, account: str) -> dict[str, Any]:
    """One ``DeliveryRecord`` as the EventBridge CloudEvent Direct Mail publishes."""
    ok = record.status == 0
    data: dict[str, Any] = {
        "env_id": record.env_id,
        "account": record.sender,
        "from": record.sender,
        "rcpt": record.to,
        "msg_id": f"{record.env_id}@{record.sender.rsplit('@', 1)[-1]}",
        "send_time": _cst(record.time),
        "deliver_time": _cst(record.time),
        "event": "dm:Deliver:Succeed" if ok else "dm:Deliver:Fail",
        "region": region,
        "tag": record.tag,
    }
    if not ok:
        data.update(
            status=str(record.status),
            failed_type=record.classification,
            err_code=record.message[:3],
            err_msg=record.message,
        )
    return {
        "id": str(uuid.uuid4()),
        "source": "acs:dm",
        "specversion": "1.0",
        "type": data["event"],
        "subject": f"acs:dm:{region}:{account}:*",
        "time": _cst(record.time) + "+08:00",
        "aliyunaccountid": account,
        "aliyuneventbusname": "default",
        "aliyunregionid": region,
        "aliyunpublishaddr": "127.0.0.1",
        "aliyunpublishtime": _cst(record.time, "%Y-%m-%dT%H:%M:%S.000") + "PRC",
        "data": data,
    }


# EventBridge's v2 signature, written here on its own (the emulator never imports the client's
# modules, so a client bug cannot agree with itself): RSA-SHA256 over the URL, one
# "name: value" line per signed header, then the body.
_SIGNATURE = "x-eventbridge-signature-v2"
_TIMESTAMP = "x-eventbridge-signature-timestamp"
_HASH_METHOD = "x-eventbridge-hash-method"
_CERT_URL = "x-eventbridge-signature-url"


def _sign(private_key_pem: bytes, url: str, headers: dict[str, str], body: bytes) -> str:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an EventBridge signing key is an RSA key")
    lines = [url] + [f"{name}: {headers.get(name, '')}" for name in (_TIMESTAMP, _HASH_METHOD, _CERT_URL)]
    signed = ("\n".join(lines) + "\n").encode() + body
    return base64.b64encode(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()


def start_pusher(url: str, *, signing_key: bytes | None, cert_url: str) -> EventPusher:
    """A pusher to ``url``; with ``signing_key`` (PEM RSA) every push is signed (v2 headers)."""
    if signing_key is None:
        return EventPusher(url)
    key = signing_key

    def headers(body: bytes) -> dict[str, str]:
        fixed = {_TIMESTAMP: str(int(time.time() * 1000)), _HASH_METHOD: "SHA256", _CERT_URL: cert_url}
        return {**fixed, _SIGNATURE: _sign(key, url, fixed, body)}

    return EventPusher(url, sign=headers)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()
