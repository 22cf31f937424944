"""Amounts in the store's currency and locale (pure)."""

from __future__ import annotations

import pytest

from rag.money import Money, parse_amount


@pytest.mark.parametrize(("money", "value", "text"), [
    (Money("EUR", "es"), 1234.5, "1.234,50 €"),
    (Money("EUR", "en"), 1234.5, "€1,234.50"),
    (Money("USD", "en"), 999, "$999.00"),
    (Money("USD", "es"), 12, "$12.00"),
    (Money("ARS", "es"), 750909, "$ 750.909"),
    (Money("", "es"), 10589, "10.589"),
    (Money("", "en"), 4.5, "4.50"),
    (Money("CHF", "en"), 3, "3.00 CHF"),
])
def test_amounts_as_the_store_writes_them(money: Money, value: float, text: str) -> None:
    assert money(value) == text


def test_no_currency_symbol_is_ever_a_default() -> None:
    assert Money().fix("It costs $24.50, or 2 for $40.") == "It costs 24.50, or 2 for 40."
    assert "currency" in Money().label() and Money("EUR").label() == "euros (€)"


def test_the_models_dollar_sign_becomes_the_store_currency() -> None:
    assert Money("EUR", "es").fix("Cuesta $1,299.00 y el otro 24,50 €.") == "Cuesta 1.299,00 € y el otro 24,50 €."
    assert Money("USD", "en").fix("It is $5.") == "It is $5."  # already right: left as written


@pytest.mark.parametrize(("raw", "value"), [("1,299.00", 1299.0), ("1.299,00", 1299.0), ("1.299", 1299.0), ("12,5", 12.5)])
def test_parse_amount(raw: str, value: float) -> None:
    assert parse_amount(raw) == value
