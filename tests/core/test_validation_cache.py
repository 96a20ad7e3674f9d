"""The per-domain verdict cache of address validation gives exactly email-validator's verdicts.

The judge is email-validator itself, called uncached on every address (``validate_email`` with the
options mailbridge uses); the cached path must agree on valid/invalid and on the error text.
"""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge._validation import _DOT_ATOM, _domain_lengths, _validator_error, address_error


def reference(address: str, smtputf8: bool) -> str | None:
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=smtputf8, strict=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


ATEXT = "abcxyzABZ0189_!#$%&'*+-/=?^`{|}~"
local_parts = st.one_of(
    st.text(alphabet=ATEXT + ".", min_size=0, max_size=70),
    st.text(alphabet=ATEXT + '. "\\<>()[]@,;:', min_size=0, max_size=12),
    st.integers(58, 70).map(lambda n: "a" * n),
)
labels = st.one_of(
    st.text(alphabet="abcxyz0189-", min_size=0, max_size=12),
    st.sampled_from(["xn--bcher-kva", "xn--", "ab--cd", "xn--zz", "-a", "a-", "com", "example", "localhost", "123"]),
    st.integers(55, 70).map(lambda n: "d" * n),
)
domains = st.one_of(
    st.lists(labels, min_size=1, max_size=5).map(".".join),
    st.text(alphabet="abc.-_[]:1@<> é", max_size=15),
    st.sampled_from(["[127.0.0.1]", "[IPv6:::1]", "", ".", "example.com.", "exa_mple.com", "bücher.de"]),
    st.integers(1, 4).map(lambda n: ".".join(["e" * 62] * n) + ".com"),
)
addresses = st.one_of(
    st.tuples(local_parts, domains).map(lambda p: f"{p[0]}@{p[1]}"),
    st.text(max_size=30),
    st.tuples(local_parts, domains, domains).map(lambda p: f"{p[0]}@{p[1]}@{p[2]}"),
)


@settings(max_examples=3000, deadline=None)
@given(addresses, st.booleans())
def test_cached_verdict_is_email_validators(address: str, smtputf8: bool) -> None:
    expected = reference(address, smtputf8)
    assert _validator_error(address, smtputf8) == expected
    assert _validator_error(address, smtputf8) == expected  # once more, from a warm cache


FEW_DOMAINS = st.sampled_from(["example.com", "xn--bcher-kva.de", "a..b", "e" * 250])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(local_parts, FEW_DOMAINS), max_size=20))
def test_many_addresses_at_few_domains(pairs: list[tuple[str, str]]) -> None:
    """The situation the cache is for: the domain's verdict is reused, each local part still judged."""
    for local, domain in pairs:
        address = f"{local}@{domain}"
        assert _validator_error(address, False) == reference(address, False)


@given(st.text(alphabet=ATEXT + '.@ "é', max_size=20))
def test_local_part_rule_is_email_validators(local: str) -> None:
    assert bool(_DOT_ATOM.match(local)) == bool(DOT_ATOM_TEXT.match(local))


def test_invalid_local_part_at_a_cached_domain_is_still_refused() -> None:
    assert address_error("good@cached-domain.example") is None
    assert _domain_lengths.cache_info().currsize >= 1
    problem = address_error("bad..dots@cached-domain.example")
    assert problem is not None and problem == reference("bad..dots@cached-domain.example", False)
    problem = address_error(("x" * 65) + "@cached-domain.example")
    assert problem is not None and "too long before the @-sign" in problem


@pytest.mark.parametrize(
    "address",
    [
        "a@" + ".".join(["e" * 63] * 3) + ".co",  # domain of 196 chars: the whole address decides the length
        ("l" * 64) + "@" + ".".join(["e" * 63] * 3) + ".com",  # 261 characters: too long overall
        "postmaster@Example.COM",
        "a@xn--bcher-kva.de",
        "a@[127.0.0.1]",
        "a@-example.com",
    ],
)
def test_edge_cases_match(address: str) -> None:
    for smtputf8 in (False, True):
        assert _validator_error(address, smtputf8) == reference(address, smtputf8)
