"""The Alibaba Cloud Direct Mail backend (``aliyun://``) and its loopback emulator.

>>> import mailbridge
>>> client = mailbridge.connect("aliyun://?region=cn-hangzhou")  # doctest: +SKIP
"""

from ._backend import AliyunBackend
from ._config import AliyunConfig

__all__ = ["AliyunBackend", "AliyunConfig"]
