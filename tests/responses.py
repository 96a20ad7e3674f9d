"""Provider answers for the parser property tests: recorded and documented samples, and their mutations.

Samples come from two judges we did not write: the cassettes (``cassettes/<provider>``, recorded
answers, error answers left out) and the JSON examples of the vendor documents in
``/work/shared/seeds`` (picked by the fields that identify each action). The mutation strategy
swaps types, drops fields, puts huge or non-finite numbers, wrong-format times and nested garbage
anywhere in the tree, and sometimes replaces the whole body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from mailbridge import MailbridgeError, ProviderUnavailable

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
DATA = Path(__file__).resolve().parent / "data"

# --------------------------------------------------------------------------- samples


def _interactions() -> Iterator[tuple[str, str, Any]]:
    """(provider, action, decoded response body) of every recorded 2xx answer."""
    for provider in ("aliyun", "tencent"):
        for path in sorted((CASSETTES / provider).rglob("*.yaml")):
            for interaction in yaml.safe_load(path.read_text()).get("interactions", []):
                request, response = interaction["request"], interaction["response"]
                headers = request["headers"]
                action = (headers.get("X-TC-Action") or headers.get("x-acs-action") or [None])[0]
                if action is None and "Action=" in request["uri"]:
                    action = request["uri"].split("Action=")[1].split("&")[0]
                if action is None or response["status"]["code"] >= 300:
                    continue
                try:
                    body = json.loads(response["body"]["string"])
                except (ValueError, TypeError):
                    continue
                yield provider, action, body


def recorded(provider: str) -> dict[str, list[Any]]:
    """Recorded success answers per action (no Tencent ``Response.Error``, no DM ``Code``)."""
    out: dict[str, list[Any]] = {}
    for prov, action, body in _interactions():
        if prov != provider or not isinstance(body, dict):
            continue
        inner = body.get("Response", body) if provider == "tencent" else body
        if not isinstance(inner, dict) or "Error" in inner or "Code" in inner:
            continue
        bucket = out.setdefault(action, [])
        if body not in bucket:
            bucket.append(body)
    return out


def documented(provider: str) -> dict[str, list[Any]]:
    """The vendor documents' JSON examples per action (``tests/data/documented_responses.json``)."""
    data = json.loads((DATA / "documented_responses.json").read_text())
    return {action: [entry["body"] for entry in entries] for action, entries in data[provider].items()}


def samples(provider: str, extra: dict[str, list[Any]] | None = None) -> dict[str, list[Any]]:
    """Recorded, documented and ``extra`` samples per action."""
    merged: dict[str, list[Any]] = {}
    for source in (recorded(provider), documented(provider), extra or {}):
        for action, bodies in source.items():
            merged.setdefault(action, []).extend(b for b in bodies if b not in merged.get(action, []))
    return merged


# --------------------------------------------------------------------------- mutations

#: Values that broke the parsers before: huge and non-finite numbers, numeric and time strings, empties.
NASTY: list[Any] = [
    1e30,
    -1e30,
    10**30,
    -(10**30),
    2**63,
    -1,
    0,
    1.5,
    float("inf"),
    float("nan"),
    True,
    False,
    "",
    "1e30",
    "9" * 40,
    "-1",
    "abc",
    "2021-13-45 99:99:99",
    "2021-04-28T17:11Z",
    "\x00",
    "é" * 3,
    [],
    {},
    [1, "x", None],
    {"a": {"b": [1]}},
    None,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(NASTY),
)
garbage = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """``value`` with some of its nodes replaced, dropped, wrapped or recursed into."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(garbage)  # the whole node swapped
    if choice == 1 and depth > 0:
        return [value]  # an object or value wrapped in a list
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            action = draw(st.integers(0, 5))
            if action == 0:
                continue  # field dropped
            out[key] = draw(mutated(item, depth + 1)) if action <= 2 else item
        if draw(st.integers(0, 4)) == 0:
            out[draw(st.text(max_size=8))] = draw(garbage)  # an unknown extra field
        return out
    if isinstance(value, list):
        items = [draw(mutated(v, depth + 1)) if draw(st.booleans()) else v for v in value]
        if items and draw(st.integers(0, 3)) == 0:
            items = items * draw(st.integers(2, 3))  # records repeated
        return items
    return draw(scalars) if choice <= 5 else value


def encode(body: Any) -> bytes:
    """JSON as a server might send it (``NaN``/``Infinity`` included: Python's decoder accepts them)."""
    return json.dumps(body, allow_nan=True).encode()


#: ``run(action, body)`` -> (result, the MailbridgeError raised or None, the fake server): one provider's harness.
Runner = Callable[[str, Any], tuple[Any, MailbridgeError | None, Any]]


def check_mutated_answer(
    run: Runner, action: str, samples: dict[str, list[Any]], data: st.DataObject, *, secret: str, provider: str
) -> None:
    """The property both clouds' fuzz tests share: a mutated sample of ``action``'s answer ends in a result
    or a MailbridgeError (never TypeError & co) that holds no secret; an "unexpected shape" error keeps the
    scrubbed body, is retryable and names the provider."""
    body = data.draw(mutated(data.draw(st.sampled_from(samples[action]))))
    _, error, _ = run(action, body)
    if error is not None:
        assert secret not in str(error) and secret not in repr(error.raw)
        if isinstance(error, ProviderUnavailable) and "unexpected shape" in error.message:
            assert error.raw is not None  # the (scrubbed) body travels with the error
            assert error.retryable and error.provider == provider
