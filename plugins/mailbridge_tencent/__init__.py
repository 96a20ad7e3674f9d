"""The ``tencent`` mailbridge backend: Tencent Cloud SES (API 2020-10-02), plus a loopback emulator."""

from ._backend import TencentBackend

__all__ = ["TencentBackend"]
