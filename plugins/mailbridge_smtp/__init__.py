"""A send-only mailbridge backend for any SMTP relay (``smtp://``), with presets for the clouds' relays.

>>> import mailbridge
>>> client = mailbridge.connect("smtp://noreply%40mail.example.com:PASSWORD@?preset=aliyun")  # doctest: +SKIP
"""

from ._backend import AliyunSmtpBackend, SmtpBackend, TencentSmtpBackend
from ._config import SmtpConfig
from ._presets import PRESETS, Preset

__all__ = ["PRESETS", "AliyunSmtpBackend", "Preset", "SmtpBackend", "SmtpConfig", "TencentSmtpBackend"]
