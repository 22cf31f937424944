"""Amounts as the store writes them: its currency (detected at ingest, or none) and its locale.

The currency comes from the store (see ``ingest.indexer.store_currency``), never from a default:
a store whose files do not say it gets bare amounts. The locale is the catalog's own language:
``1.234,50 €`` in a Spanish euro catalog, ``€1,234.50`` in an English one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "MXN": "$", "ARS": "$", "CLP": "$", "COP": "$", "UYU": "$",
           "JPY": "¥", "INR": "₹", "BRL": "R$", "PEN": "S/", "CAD": "$", "AUD": "$"}
#: Written with a decimal comma and a dot for thousands (unless the catalog is in English), the euro after the amount.
COMMA_DECIMAL = {"EUR", "ARS", "CLP", "COP", "UYU", "BRL"}
NO_CENTS = {"CLP", "COP", "JPY", "ARS"}  # amounts usually written whole
NAMES = {
    "en": {"USD": "US dollars", "EUR": "euros", "GBP": "pounds", "MXN": "Mexican pesos", "ARS": "Argentine pesos"},
    "es": {"USD": "dólares", "EUR": "euros", "GBP": "libras", "MXN": "pesos mexicanos", "ARS": "pesos argentinos"},
}

_AMOUNT = re.compile(r"(?<![\w.,])(US\$|\$|€|£)\s?(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?![\d])"
                     r"|(?<![\w.,])(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)\s?(€|£|US\$|\$)")


def _group(whole: int, sep: str) -> str:
    return f"{whole:,}".replace(",", sep)


def parse_amount(raw: str) -> float:
    """'1,299.00' / '1.299,00' / '1.299' / '12,5' -> float (the answer's own way of writing it)."""
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw):
        return float(re.sub(r"[.,]", "", raw))
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+\.\d+", raw):
        return float(raw.replace(",", ""))
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d+", raw):
        return float(raw.replace(".", "").replace(",", "."))
    return float(raw.replace(",", "."))


@dataclass(frozen=True)
class Money:
    """Formats amounts for one store: ``Money("EUR", "es")(1234.5)`` -> ``"1.234,50 €"``."""

    currency: str = ""  # ISO code, "" = the store never said
    language: str = ""  # the catalog's language ("es"/"en"), "" = unknown (English conventions)

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.currency, "")

    def number(self, value: float) -> str:
        cents = not (float(value).is_integer() and (self.currency in NO_CENTS or not self.currency))
        comma = (self.currency in COMMA_DECIMAL and self.language != "en") or (not self.currency and self.language == "es")
        whole, frac = divmod(round(abs(float(value)) * 100), 100)
        text = _group(int(whole), "." if comma else ",")
        if cents:
            text += ("," if comma else ".") + f"{int(frac):02d}"
        return ("-" if value < 0 else "") + text

    def __call__(self, value: float) -> str:
        amount = self.number(value)
        if not self.currency:
            return amount
        if not self.symbol:
            return f"{amount} {self.currency}"
        if self.currency in COMMA_DECIMAL and self.symbol == "$":
            return f"$ {amount}"
        if self.currency in COMMA_DECIMAL and self.language != "en":
            return f"{amount} {self.symbol}"
        return f"{self.symbol}{amount}"

    def label(self) -> str:
        """How the prompt names the rows' currency; never a guessed one."""
        if not self.currency:
            return "numbers only: no currency is stated, so write no currency symbol"
        name = NAMES["en"].get(self.currency, self.currency)
        return f"{name} ({self.symbol})" if self.symbol else name

    def fix(self, text: str) -> str:
        """An answer's amounts in the store's currency and format.

        The small model writes "$" out of habit (and from its worked examples); in a euro store or
        one that never names its currency, every "$12.50" becomes "12,50 €" / "12.50".
        """
        def swap(m: re.Match) -> str:
            symbol = m.group(1) or m.group(4)
            raw = m.group(2) or m.group(3)
            if symbol == self.symbol and self.symbol:
                return m.group(0)
            try:
                return self(parse_amount(raw))
            except ValueError:
                return m.group(0)

        return _AMOUNT.sub(swap, text)
