"""What the client costs, side by side with the vendors' official SDKs, in one run.

Run: .venv/bin/python benchmarks/bench_client_cost.py [--sends 400] [--runs 5] [--only cold|dm|tencent]
(needs the ``bench`` extra: ``pip install -e ".[bench]"``, which brings ``alibabacloud-dm20151123``.)

* cold start: wall time and peak RSS of a fresh interpreter doing ``import mailbridge;
  connect("aliyun://...")`` vs ``import alibabacloud_dm20151123.client; Client(config)``;
* client CPU per Direct Mail ``SingleSendMail``: mailbridge vs the official SDK;
* client CPU per Tencent SES ``SendEmail``: mailbridge vs the bare SDK call.

The emulators run in their own processes (``mailbridge emulator ...``), so the CPU measured
here (``time.process_time``) is the client's alone. Medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The Direct Mail emulator's published test credentials (mailbridge_aliyun.emulator.TEST_ACCESS_KEY_*), spelled
# out: importing the emulators here would count in the cold-start children's peak RSS (a child's ru_maxrss
# includes the pages it shares with this process between fork and exec).
DM_KEY, DM_SECRET = "LTAI5tMailbridgeTestKeyId", "mailbridge-test-secret-aliyun"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator(name: str, *options: str) -> Iterator[int]:
    port = free_port()
    args = [str(Path(sys.executable).with_name("mailbridge")), "emulator", name, "--port", str(port)]
    for option in options:
        args += ["--option", option]
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def cpu_per_call(call: Callable[[int], Any], count: int) -> float:
    call(-1)  # warm-up: connection, imports, caches
    start = time.process_time()
    for i in range(count):
        call(i)
    return (time.process_time() - start) / count


def paired_cpu(ours: Callable[[int], Any], theirs: Callable[[int], Any], count: int, block: int = 20) -> float:
    """CPU per call of ``ours`` over ``theirs``, measured in alternating blocks of ``block`` calls.

    Alternating keeps both under the same conditions when other work shares the machine (its load
    changes within seconds): the ratio is what is compared, per run."""
    ours(-1)
    theirs(-2)
    spent = [0.0, 0.0]
    for first in range(0, count, block):
        for side, call in enumerate((ours, theirs)):
            start = time.process_time()
            for i in range(first, min(first + block, count)):
                call(i)
            spent[side] += time.process_time() - start
    return spent[0] / spent[1]


def cold_start(code: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of a fresh interpreter running ``code``.

    CPU (user + system) is what the start costs the machine, and stays meaningful when other
    work shares the cores (wall time then includes waiting for one)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def bench_cold_start(runs: int) -> None:
    ours = f"import mailbridge; mailbridge.connect('aliyun://{DM_KEY}:{DM_SECRET}@cn-hangzhou')"
    sdk = (
        "from alibabacloud_dm20151123.client import Client; from alibabacloud_tea_openapi.models import Config; "
        f"Client(Config(access_key_id={DM_KEY!r}, access_key_secret={DM_SECRET!r}, endpoint='dm.aliyuncs.com'))"
    )
    baseline = "pass"
    samples: dict[str, list[tuple[float, float, float]]] = {"python -c pass": [], "mailbridge": [], "official SDK": []}
    for _ in range(runs):  # interleaved, so that a burst of load on the machine hits all three alike
        for name, code in (("python -c pass", baseline), ("mailbridge", ours), ("official SDK", sdk)):
            samples[name].append(cold_start(code))
    results = {name: tuple(statistics.median(s[i] for s in runs_) for i in range(3)) for name, runs_ in samples.items()}
    m, s, b = results["mailbridge"], results["official SDK"], results["python -c pass"]
    print(
        "cold start (import + client): "
        f"mailbridge {m[0] * 1000:.0f} ms wall, {m[2] * 1000:.0f} ms CPU, {m[1]:.1f} MiB; "
        f"official SDK {s[0] * 1000:.0f} ms wall, {s[2] * 1000:.0f} ms CPU, {s[1]:.1f} MiB; "
        f"ratio {m[0] / s[0]:.2f}x wall, {m[2] / s[2]:.2f}x CPU, {m[1] / s[1]:.2f}x RSS "
        f"(bare interpreter {b[0] * 1000:.0f} ms wall, {b[2] * 1000:.0f} ms CPU, {b[1]:.1f} MiB; "
        f"load average {os.getloadavg()[0]:.1f})"
    )


def bench_direct_mail(sends: int, runs: int) -> None:
    from alibabacloud_dm20151123 import models
    from alibabacloud_dm20151123.client import Client as DmClient
    from alibabacloud_tea_openapi.models import Config
    from darabonba.runtime import RuntimeOptions

    import mailbridge

    with emulator("aliyun", "daily_quota=1000000000") as port:
        url = f"aliyun://{DM_KEY}:{DM_SECRET}@cn-hangzhou?endpoint=http://127.0.0.1:{port}&rate_limit=off"
        ours = mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1))
        sdk = DmClient(
            Config(
                access_key_id=DM_KEY,
                access_key_secret=DM_SECRET,
                endpoint=f"127.0.0.1:{port}",
                protocol="http",
                region_id="cn-hangzhou",
            )
        )
        runtime = RuntimeOptions()

        def with_mailbridge(i: int) -> None:
            ours.send(
                mailbridge.Message(
                    sender="noreply@mail.example.com", to=[f"u{i}@example.com"], subject=f"s{i}", html="<p>hi</p>"
                )
            )

        def with_sdk(i: int) -> None:
            request = models.SingleSendMailRequest(
                account_name="noreply@mail.example.com",
                address_type=1,
                reply_to_address=False,
                to_address=f"u{i}@example.com",
                subject=f"s{i}",
                html_body="<p>hi</p>",
            )
            sdk.single_send_mail_with_options(request, runtime)

        pairs = [(cpu_per_call(with_mailbridge, sends), cpu_per_call(with_sdk, sends)) for _ in range(runs)]
        ratios = [paired_cpu(with_mailbridge, with_sdk, sends) for _ in range(runs)]
        ours.close()
    m = statistics.median(p[0] for p in pairs)
    s = statistics.median(p[1] for p in pairs)
    print(
        f"Direct Mail CPU per send: mailbridge {m * 1e6:.0f} µs, official SDK {s * 1e6:.0f} µs; ratio "
        f"{statistics.median(ratios):.2f}x (median of {runs} runs of alternating blocks: "
        f"{', '.join(f'{r:.2f}' for r in sorted(ratios))})"
    )


def bench_tencent(sends: int, runs: int) -> None:
    from mailbridge_tencent.emulator import TEST_SECRET_ID as TC_ID
    from mailbridge_tencent.emulator import TEST_SECRET_KEY as TC_KEY
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.ses.v20201002 import models
    from tencentcloud.ses.v20201002.ses_client import SesClient

    import mailbridge

    with emulator("tencent", "rate=0") as port:
        url = f"tencent://{TC_ID}:{TC_KEY}@ap-guangzhou?endpoint=http://127.0.0.1:{port}&rate_limit=off"
        ours = mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1))
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{port}"))
        sdk = SesClient(Credential(TC_ID, TC_KEY), "ap-guangzhou", profile)

        def with_mailbridge(i: int) -> None:
            ours.send(
                mailbridge.Message(
                    sender="noreply@mail.example.com", to=[f"u{i}@example.com"], subject=f"s{i}", text="hi"
                )
            )

        def with_sdk(i: int) -> None:
            request = models.SendEmailRequest()
            request.FromEmailAddress = "noreply@mail.example.com"
            request.Destination = [f"u{i}@example.com"]
            request.Subject = f"s{i}"
            request.Simple = models.Simple()
            request.Simple.Text = "aGk="
            request.TriggerType = 1
            sdk.SendEmail(request)

        pairs = [(cpu_per_call(with_mailbridge, sends), cpu_per_call(with_sdk, sends)) for _ in range(runs)]
        ratios = [paired_cpu(with_mailbridge, with_sdk, sends) for _ in range(runs)]
        ours.close()
    m = statistics.median(p[0] for p in pairs)
    s = statistics.median(p[1] for p in pairs)
    print(
        f"Tencent SES CPU per send: mailbridge {m * 1e6:.0f} µs, bare SDK call {s * 1e6:.0f} µs; ratio "
        f"{statistics.median(ratios):.2f}x (median of {runs} runs of alternating blocks: "
        f"{', '.join(f'{r:.2f}' for r in sorted(ratios))})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=400)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=("cold", "dm", "tencent"), help="run one of the three benchmarks")
    args = parser.parse_args()
    if args.only in (None, "cold"):
        bench_cold_start(args.runs)
    if args.only in (None, "dm"):
        bench_direct_mail(args.sends, args.runs)
    if args.only in (None, "tencent"):
        bench_tencent(args.sends, args.runs)


if __name__ == "__main__":
    main()
