"""``python -m mailbridge_aliyun.emulator [--host H] [--port N] [key=value ...]``."""

from __future__ import annotations

import argparse

from . import serve


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Alibaba Cloud Direct Mail emulator on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("options", nargs="*", help="key=value: rate, max_lists, daily_quota, ...")
    args = parser.parse_args()
    serve(args.host, args.port, **dict(o.split("=", 1) for o in args.options))


if __name__ == "__main__":
    main()
