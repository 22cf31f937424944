"""Column roles, prices, ids and the row -> Document contract.

Shops export catalogs from whatever they have (a POS, Excel, a web shop), so column
names vary wildly ("Precio ($)", "Item ID", "descripción"). This module decides which
column plays which *role* (id, name, price, ...) and turns one row into one LangChain
``Document`` whose metadata Chroma can store as-is (only str/int/float/bool, never None,
lists or empty strings). It is pure: no file access, no models. The loaders in
:mod:`ingest.loaders` read files and call :func:`row_to_document` for every row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from langchain_core.documents import Document

from rag.store import EMBED_TEXT_VERSION

logger = logging.getLogger(__name__)

ROLES = (
    "id", "name", "price", "currency", "category", "brand", "description", "stock", "tags",
    "price_option", "unit_price", "format", "nutrition", "allergens", "colours",
)
#: Roles several columns may hold: category levels (section > family > sub-category), prices of
#: portions or sizes (``tapa``/``tabla``, ``small``/``large``: 0 or empty = not offered), unit or
#: reference prices (``€/kg``), pack formats and nutrition columns. The others go to one column.
MULTI_ROLES = frozenset({"category", "price_option", "unit_price", "format", "nutrition"})

#: Metadata keys the loaders always set; a plain column with one of these names is renamed.
RESERVED_KEYS = frozenset({"id", "name", "source", "line", "kind", "content_hash", *ROLES})
#: Metadata key prefixes Chroma keeps for itself (chromadb 1.5): it refuses ``chroma:document`` and
#: keys starting with ``#`` or ``$`` (the whole batch fails), and silently drops other ``chroma:``
#: keys when reading. A column named so is renamed like a clash with :data:`RESERVED_KEYS`.
CHROMA_RESERVED_PREFIXES = ("chroma:", "#", "$")
#: Integers Chroma stores exactly (it keeps larger ones as floats, losing digits).
_INT64 = range(-(2**63), 2**63)

#: How many characters of text stand in for a name when a row or section has none.
NAME_FALLBACK_CHARS = 60

_SYNONYMS: dict[str, frozenset[str]] = {
    "id": frozenset({
        "id", "sku", "code", "codigo", "cod", "ref", "reference", "referencia", "item id",
        "product id", "item code", "product code", "id producto", "codigo producto",
        "codigo de producto", "articulo", "article", "article number", "art no", "art nr",
        "numero de articulo", "item number", "product number", "part number", "plu",
    }),
    "name": frozenset({
        "name", "nombre", "title", "titulo", "product", "producto", "plato", "dish", "item",
        "product name", "item name", "nombre producto", "nombre del producto", "dish name",
        "nombre del plato", "menu item", "product title", "denominacion",
    }),
    "price": frozenset({
        "price", "precio", "cost", "coste", "costo", "importe", "pvp", "unit price",
        "precio unitario", "sale price", "precio venta", "precio de venta", "retail price",
        "valor", "tarifa", "mrp", "list price", "precio lista", "precio de lista",
    }),
    "currency": frozenset({"currency", "moneda", "divisa", "currency code"}),
    "category": frozenset({
        "category", "categories", "categoria", "categorias", "type", "tipo", "seccion",
        "section", "department", "departamento", "familia", "family", "product type",
        "tipo de producto", "course", "menu section", "rubro", "grupo", "group", "agrupacion",
        "subcategoria", "subcategory", "sub category", "subcategorias", "subfamilia", "subfamily", "typename",
        "type name", "linea", "line", "aisle", "pasillo", "clase", "class", "genero", "division",
    }),
    "unit_price": frozenset({
        "unit price per kg", "precio por kilo", "precio por litro", "precio kilo", "precio litro", "precio referencia",
        "precio de referencia", "reference price", "price per kg", "price per unit", "price per litre", "price per liter",
        "precio por unidad de medida", "precio unidad de medida", "pum", "ppu", "unit pricing", "precio kg", "precio l",
    }),
    "format": frozenset({
        "format", "formato", "pack", "package", "packaging", "envase", "presentacion", "tamano", "size", "contenido",
        "content", "net content", "contenido neto", "unidad de medida", "unit of measure", "uom", "pack size",
    }),
    "allergens": frozenset({
        "allergens", "allergen", "alergenos", "alergeno", "allergy info", "allergen info", "contains allergens",
        "informacion de alergenos",
    }),
    "colours": frozenset({"color", "colour", "colors", "colours", "colores", "colorway", "available colors", "colores disponibles"}),
    "nutrition": frozenset({
        "nutrition", "nutricion", "nutrition facts", "nutritional information", "informacion nutricional",
        "valores nutricionales", "calories", "calorias", "kcal", "energia", "energy", "nutrients", "nutrientes",
    }),
    "brand": frozenset({"brand", "marca", "manufacturer", "fabricante", "vendor", "brand name", "company", "maker"}),
    "description": frozenset({
        "description", "descripcion", "desc", "details", "detalles", "detail", "detalle",
        "long description", "short description", "summary", "resumen",
    }),
    "stock": frozenset({
        "stock", "qty", "quantity", "cantidad", "existencias", "inventory", "inventario",
        "units", "unidades", "disponibles", "disponible", "available", "on hand", "in stock",
        "stock qty", "qty on hand", "saldo", "saldo disponible", "stock disponible", "existencia",
    }),
    "tags": frozenset({
        "tags", "tag", "etiquetas", "etiqueta", "dietas", "dieta", "dietary", "diet", "labels",
        "keywords", "palabras clave",
    }),
}

#: Currency symbols (longest first so "US$" wins over "$") -> ISO 4217 code.
_SYMBOLS: dict[str, str] = {
    "US$": "USD", "MX$": "MXN", "C$": "CAD", "A$": "AUD", "R$": "BRL", "S/": "PEN",
    "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₺": "TRY",
    "₽": "RUB", "₱": "PHP", "₡": "CRC", "₲": "PYG", "₦": "NGN", "₫": "VND", "฿": "THB",
}
_NUMBER_RE = re.compile(
    r"[-+]?(?:\d{1,3}(?:[ '\u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d[\d.,]*|[.,]\d+)"
)
_ISO_RE = re.compile(r"^[A-Za-z]{3}$")


@dataclass(frozen=True)
class ColumnMapping:
    """Which original column plays which role in one file."""

    headers: tuple[str, ...]
    roles: dict[str, str] = field(default_factory=dict, hash=False)

    def header_for(self, role: str) -> str | None:
        """The header of the column that has ``role``, or None when no column has it."""
        return next((header for header, r in self.roles.items() if r == role), None)


# --------------------------------------------------------------------------- headers


def clean_header(text: Any) -> str:
    """Strip whitespace and byte-order marks and collapse inner whitespace."""
    return " ".join(str("" if text is None else text).replace("\ufeff", "").split())


def clean_headers(headers: Sequence[Any]) -> tuple[str, ...]:
    """Clean headers, name blank ones ``column N`` and make repeated ones unique (``X (2)``)."""
    cleaned: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(headers, start=1):
        base = clean_header(raw) or f"column {number}"
        header, copy = base, 1
        while header in seen:
            copy += 1
            header = f"{base} ({copy})"
        seen.add(header)
        cleaned.append(header)
    return tuple(cleaned)


def _fold(text: str) -> str:
    """Lower-case, accent-free text (the basis of every case/accent-insensitive comparison)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalise_header(header: str) -> str:
    """The comparable form of a header: ``" Precio ($) "`` -> ``"precio"``, ``Item_ID`` -> ``"item id"``."""
    text = re.sub(r"[(\[{].*?[)\]}]", " ", _fold(header))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_WILDCARD = "qqq"  # stands for a letter lost to a bad encoding conversion (U+FFFD) while a header is compared


def _role_of(header: str) -> str | None:
    """The role a header names, or None.

    Beyond the synonyms: ``price usd``/``Price_euros``/``Precio tarjeta`` (a price word and one more
    word) are prices, ``laptop_ID`` is an id, ``/kg`` and ``/L`` mark unit prices, and a letter lost
    to a bad conversion (``Descripci\ufffdn``) matches any letter.
    """
    norm = normalise_header(header.replace("\ufffd", _WILDCARD))
    if _WILDCARD in norm:
        pattern = re.compile(re.escape(norm).replace(_WILDCARD, "[a-z]?"))
        return next((role for role, names in _SYNONYMS.items() for n in names if pattern.fullmatch(n)), None)
    if re.search(r"/\s*(kg|k|l|lt|litro|litre|liter|ud|unidad|unit|100\s*g|100\s*ml)\b", _fold(header)):
        return "unit_price"
    for role, names in _SYNONYMS.items():
        if norm in names:
            return role
    words = norm.split()
    if len(words) == 2 and words[0] in _SYNONYMS["price"]:
        return "price"
    if len(words) >= 2 and words[-1] in ("id", "sku", "code", "codigo"):
        return "id"
    return None


def check_overrides(overrides: Mapping[str, str]) -> None:
    """Raise ValueError when an override names an unknown role or gives one role twice."""
    holders: dict[str, str] = {}
    for header, role in overrides.items():
        if role not in ROLES:
            raise ValueError(
                f"unknown role '{role}' for column '{header}': use one of {', '.join(ROLES)}"
            )
        if role in holders and role not in MULTI_ROLES:
            raise ValueError(
                f"role '{role}' is given to both '{holders[role]}' and '{header}': "
                "give each role to one column"
            )
        holders[role] = header


def _match_override(header: str, headers: Sequence[str]) -> str | None:
    """The file header an override key refers to (exact, else case/accent-insensitive)."""
    cleaned = clean_header(header)
    if cleaned in headers:
        return cleaned
    folded = _fold(cleaned)
    return next((h for h in headers if _fold(h) == folded), None)


def detect_roles(headers: Sequence[str], overrides: Mapping[str, str] | None = None) -> ColumnMapping:
    """Assign roles to columns by header name; ``overrides`` (header -> role) win.

    Each role goes to at most one column (the override, else the first matching column), except
    the :data:`MULTI_ROLES`. With no name column, a description column names the rows (stock lists
    often have just a code and a ``Descripción`` that packs the name, brand and size).
    Raises ValueError for an unknown role in ``overrides``.
    """
    cleaned = clean_headers(headers)
    roles: dict[str, str] = {}
    for header, role in (overrides or {}).items():
        check_overrides({header: role})
        target = _match_override(header, cleaned)
        if target is None:
            logger.warning("mapping names column %r, which is not in the header %s", header, cleaned)
            continue
        roles[target] = role
    check_overrides(roles)
    taken = set(roles.values())
    for header in cleaned:
        role = _role_of(header)
        if header not in roles and role is not None and (role not in taken or role in MULTI_ROLES):
            roles[header] = role
            taken.add(role)
    if {"id", "description"} <= taken and "name" not in taken and not (overrides and "description" in overrides.values()):
        roles[next(h for h, r in roles.items() if r == "description")] = "name"
    ordered = {h: roles[h] for h in cleaned if h in roles}
    return ColumnMapping(headers=cleaned, roles=ordered)


# --------------------------------------------------------------------------- prices


def _currency_code(token: str) -> str | None:
    """ISO code for a currency symbol or code; None when ``token`` is neither."""
    token = token.strip()
    if token in _SYMBOLS:
        return _SYMBOLS[token]
    if _ISO_RE.match(token):
        return token.upper()
    return None


_CURRENCY_WORDS = {"euro": "EUR", "euros": "EUR", "eur": "EUR", "usd": "USD", "dollars": "USD", "dolares": "USD",
                   "gbp": "GBP", "pounds": "GBP", "libras": "GBP", "mxn": "MXN", "ars": "ARS", "clp": "CLP", "cop": "COP"}


def currency_hint(text: str) -> str | None:
    """The currency a header names, if any: ``Price (USD)``, ``Precio (€)``, ``Price_euros``, ``price usd``."""
    for inner in re.findall(r"[(\[{]([^)\]}]*)[)\]}]", text):
        code = _currency_code(inner)
        if code:
            return code
    for symbol, code in _SYMBOLS.items():
        if symbol != "$" and symbol in text:
            return code
    words = re.findall(r"[a-z]+", _fold(text))
    return next((_CURRENCY_WORDS[w] for w in words if w in _CURRENCY_WORDS), None)


_IN_TEXT_MONEY = re.compile(r"\d\s*(€|£|US\$|\$)|(€|£|US\$|\$)\s*\d|\d\s*(eur|euros|usd)\b", re.IGNORECASE)


def currency_in_text(text: str) -> str | None:
    """A currency written next to an amount anywhere in a cell (``0,49 €/L``, ``$1,799.99``), if any."""
    m = _IN_TEXT_MONEY.search(text)
    if m is None:
        return None
    token = next(g for g in m.groups() if g)
    return _CURRENCY_WORDS.get(token.lower()) or _SYMBOLS.get(token.upper() if token.lower() == "us$" else token)


def _to_float(number: str) -> float:
    """Parse digits with either ``.`` or ``,`` as the decimal mark and any thousands grouping.

    The last of ``.``/``,`` is the decimal mark when both appear. A lone separator followed by
    exactly three digits after a 1-3 digit non-zero integer part is a thousands separator
    ("1,999" and "12.000" are 1999 and 12000, as written on most price lists); otherwise it
    is the decimal mark ("12,50", "0.125").
    """
    digits = re.sub(r"[\s'\u00a0\u202f]", "", number)
    sign = "-" if digits.startswith("-") else ""
    digits = digits.lstrip("+-")
    if "." in digits and "," in digits:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        grouping = "," if decimal == "." else "."
        digits = digits.replace(grouping, "").replace(decimal, ".")
    elif digits.count(",") + digits.count(".") > 1 and len(set(re.sub(r"\d", "", digits))) == 1:
        digits = re.sub(r"[.,]", "", digits) if _is_grouped(digits) else "!"
    elif "," in digits or "." in digits:
        whole, _, frac = re.split(r"([.,])", digits, maxsplit=1)
        thousands = len(frac) == 3 and 1 <= len(whole) <= 3 and whole.strip("0") != ""
        digits = whole + frac if thousands else f"{whole or '0'}.{frac}"
    return float(sign + digits)


def _is_grouped(digits: str) -> bool:
    """True for ``1,234,567`` / ``1.234.567`` (groups of three after the first)."""
    return re.fullmatch(r"\d{1,3}([.,]\d{3})+", digits) is not None


def parse_price(text: str) -> tuple[float, str | None]:
    """Parse a price cell into (amount, ISO currency or None).

    ``"$1,999.00"`` -> ``(1999.0, "USD")``, ``"1.999,50 €"`` -> ``(1999.5, "EUR")``,
    ``"15"`` -> ``(15.0, None)``. Raises ValueError when the text is not one number with an
    optional currency symbol or code around it.
    """
    text = clean_header(text)
    match = _NUMBER_RE.search(text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    around = (text[: match.start()] + " " + text[match.end():]).strip()
    currency = _currency_code(around) if around else None
    if around and currency is None:
        raise ValueError(f"unexpected text {around!r} around the number in {text!r}")
    try:
        amount = _to_float(match.group().strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a number") from exc
    if not math.isfinite(amount):
        raise ValueError(f"{text!r} is not a finite number")
    return amount, currency


# --------------------------------------------------------------------------- ids


def slugify(text: str) -> str:
    """``"Crème Brûlée (large)"`` -> ``"creme-brulee-large"``; empty when nothing is left."""
    ascii_text = _fold(text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def section_id(file_stem: str, heading: str) -> str:
    """Stable id of a document section.

    ``("policies", "Store hours & location")`` -> ``"policies#store-hours-location"``.
    """
    return f"{slugify(file_stem) or 'file'}#{slugify(heading) or 'section'}"


def short_hash(text: str) -> str:
    """First 16 hex characters of the SHA-256 of ``text``."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def content_hash(page_content: str, metadata: Mapping[str, Any]) -> str:
    """SHA-256 of the content and metadata, ignoring ``line`` so moving a row is no change.

    It includes :data:`EMBED_TEXT_VERSION`, so a new recipe for what is embedded re-embeds every row
    once, on the next ingest, while the old vectors (same model) keep answering until then.
    """
    rest = {k: v for k, v in metadata.items() if k not in ("line", "content_hash")}
    payload = EMBED_TEXT_VERSION + page_content + json.dumps(rest, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- rows


def cell_text(value: Any) -> str:
    """A cell as trimmed text with inner whitespace collapsed; integers lose any ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _price(value: Any, text: str) -> tuple[float, str | None]:
    """Price of a cell; numbers from JSON/XLSX are used as they are."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            amount = float(value)
        except OverflowError:  # an integer too large for a float (JSON allows them)
            raise ValueError(f"price '{text[:20]}...' is too large to be a price: use digits like 19.99") from None
        if math.isfinite(amount):
            return amount, None
    try:
        return parse_price(text)
    except ValueError:
        raise ValueError(f"price '{text}' is not a number: use digits like 19.99") from None


def _stock(text: str) -> int | str:
    """Stock as an int when it is a whole number Chroma can store exactly, else the text as written."""
    try:
        number = int(text)
    except ValueError:
        return text
    return number if number in _INT64 else text


def _option_price(value: Any, text: str) -> float | None:
    """A portion/size price; None when that portion is not offered (0, empty or not a number)."""
    try:
        amount, _ = _price(value, text)
    except ValueError:
        return None
    return amount if amount > 0 else None


def _role_metadata(role: str, value: Any, text: str) -> dict[str, Any]:
    """Metadata entries for one recognised (non id/name) column."""
    if role == "price":
        amount, currency = _price(value, text)
        return {"price": amount, **({"_price_currency": currency} if currency else {})}
    if role == "stock":
        return {"stock": _stock(text)}
    if role == "currency":
        return {"currency": text.upper() if _ISO_RE.match(text) else text}
    return {role: text}


def _plain_key(header: str, metadata: Mapping[str, Any]) -> str:
    """Metadata key of an unrecognised column; renamed when it would clash with ours or Chroma's."""
    key = header
    while key in RESERVED_KEYS or key in metadata or key.startswith(CHROMA_RESERVED_PREFIXES):
        key = f"column {key}"
    return key


def _fields_metadata(texts: Mapping[str, str], values: Mapping[str, Any], mapping: ColumnMapping) -> dict[str, Any]:
    """Role and plain-column metadata for the non-empty cells of a row."""
    metadata: dict[str, Any] = {}
    options: list[float] = []
    for header, text in texts.items():
        role = mapping.roles.get(header)
        if role in ("id", "name"):
            continue
        if role == "price_option":
            amount = _option_price(values.get(header), text)
            if amount is not None:
                metadata[_plain_key(header, metadata)] = amount
                options.append(amount)
        elif role is None or (role in MULTI_ROLES and role != "category") or (role == "category" and "category" in metadata):
            metadata[_plain_key(header, metadata)] = text  # a further category level, a unit price, a format...
        else:
            metadata.update(_role_metadata(role, values.get(header), text))
    if options and "price" not in metadata:
        metadata["price"] = min(options)  # "from" price: what the cheapest/most expensive rules and filters compare
    symbol_currency = metadata.pop("_price_currency", None)
    price_header = mapping.header_for("price") or mapping.header_for("price_option")
    if "price" in metadata and "currency" not in metadata:
        currency = symbol_currency or (currency_hint(price_header) if price_header else None)
        if currency:
            metadata["currency"] = currency
    return metadata


def field_keys(mapping: ColumnMapping) -> dict[str, list[str]]:
    """Where each detected role's values are kept in a row's metadata (role -> metadata keys).

    The first column of a role is stored under the role's name; further category levels, portion
    prices, unit prices, formats and nutrition columns under their own header.
    """
    keys: dict[str, list[str]] = {}
    for header, role in mapping.roles.items():
        if role in ("id", "name"):
            continue
        first = role not in keys and role not in MULTI_ROLES - {"category"}
        keys.setdefault(role, []).append(role if first else header)
    return keys


def _identity(texts: Mapping[str, str], mapping: ColumnMapping, page_content: str) -> tuple[str, str]:
    """(id, name) of a row; raises ValueError when the file has id/name columns but both are empty."""
    id_header, name_header = mapping.header_for("id"), mapping.header_for("name")
    row_id = texts.get(id_header, "") if id_header else ""
    name = texts.get(name_header, "") if name_header else ""
    if not row_id and not name and (id_header or name_header):
        column = name_header or id_header
        raise ValueError(f"row has no name or id: fill in the '{column}' column")
    if not name:
        name = page_content.split("\n", 1)[0][:NAME_FALLBACK_CHARS]
    row_id = row_id or (slugify(name) if name_header else "") or short_hash(page_content)
    return row_id, name


def _page_content(texts: Mapping[str, str], mapping: ColumnMapping) -> str:
    """Name on the first line, then ``header: value`` for every other non-empty cell."""
    name_header = mapping.header_for("name")
    lines = [texts[name_header]] if name_header and texts.get(name_header) else []
    lines += [f"{header}: {text}" for header, text in texts.items() if header != name_header]
    return "\n".join(lines)


def row_to_document(
    fields: Mapping[str, Any], *, mapping: ColumnMapping | None, source: str, line: int
) -> Document:
    """Turn one row (header -> cell value, in column order) into a Document.

    ``source`` may be a path; only its file name goes into the metadata. Raises ValueError
    with a user-facing reason (what is wrong and the fix) when the price is not a number or
    the row has neither name nor id. Callers skip rows whose cells are all empty.
    """
    mapping = mapping or detect_roles(list(fields))
    texts = {header: cell_text(value) for header, value in fields.items()}
    texts = {header: text for header, text in texts.items()
             if text and not (mapping.roles.get(header) == "price_option" and _option_price(fields[header], text) is None)}
    page_content = _page_content(texts, mapping)
    row_id, name = _identity(texts, mapping, page_content)
    metadata: dict[str, Any] = {
        "id": row_id,
        "name": name,
        "source": PurePath(source).name,
        "line": int(line),
        "kind": "row",
    }
    metadata.update(_fields_metadata(texts, fields, mapping))
    return finish_document(page_content, metadata)


def section_key(text: Any) -> str:
    """How a category value is compared: case, accents and spacing aside ("Vinos " is "VINOS")."""
    return _fold(clean_header(text))


def check_portion_names(names: Any, mapping: ColumnMapping) -> dict[str, dict[str, str]]:
    """Validate ``{"<category>": {"<portion column>": "<its name there>"}}``; raise ValueError with the fix.

    Menus reuse their portion columns per section: in a tapas bar's wine list ``media_tabla`` is a glass
    (``copa``) and ``tabla`` a bottle (``botella``). Each named column must be a ``price_option`` column
    of the file, and each name a word staff use, not another column's header.
    """
    shape = '{"portion_names": {"<category>": {"<portion column>": "<name>"}}}'
    if not isinstance(names, dict) or not all(isinstance(v, dict) for v in names.values()):
        raise ValueError(f"'portion_names' must map a category to its columns' names: write it as {shape}")
    options = [h for h, r in mapping.roles.items() if r == "price_option"]
    out: dict[str, dict[str, str]] = {}
    for category, columns in names.items():
        out[section_key(category)] = renamed = {}
        for header, label in columns.items():
            column = _match_override(str(header), options)
            if column is None:
                raise ValueError(f"'portion_names' of '{category}' names '{header}', which is not a portion price column "
                                 f"of this file ({', '.join(options) or 'none'}): give those columns the role "
                                 '"price_option" in "columns" first')
            label = clean_header(label)
            if not label or (label in mapping.headers and label != column) or label in RESERVED_KEYS:
                raise ValueError(f"'portion_names' of '{category}' gives '{header}' the name '{label}': use a word that "
                                 "is not empty and not another column's header (e.g. \"copa\")")
            renamed[column] = label
    return out


def with_portion_names(mapping: ColumnMapping, names: Mapping[str, Mapping[str, str]]) -> ColumnMapping:
    """The mapping with each portion name as one more ``price_option`` key (what rules and filters read)."""
    roles = dict(mapping.roles)
    for columns in names.values():
        roles.update({label: "price_option" for label in columns.values()})
    return ColumnMapping(headers=mapping.headers, roles=roles)


def rename_portions(doc: Document, names: Mapping[str, Mapping[str, str]], category_keys: Sequence[str]) -> Document:
    """The row with its portion columns called as its section calls them (``media_tabla`` -> ``copa`` in VINOS)."""
    sections = [section_key(str(doc.metadata[k])) for k in category_keys if doc.metadata.get(k)]
    columns = next((names[s] for s in sections if s in names), None)
    if not columns:
        return doc
    metadata = {columns.get(k, k): v for k, v in doc.metadata.items() if k != "content_hash"}
    lines = []
    for line in doc.page_content.split("\n"):
        header, sep, value = line.partition(": ")
        lines.append(f"{columns[header]}{sep}{value}" if sep and header in columns else line)
    return finish_document("\n".join(lines), metadata)


def finish_document(page_content: str, metadata: dict[str, Any]) -> Document:
    """Drop empty metadata, add ``content_hash`` and build the Document (id = ``metadata['id']``)."""
    clean = {k: v for k, v in metadata.items() if v is not None and v != ""}
    clean["content_hash"] = content_hash(page_content, clean)
    return Document(page_content=page_content, metadata=clean, id=clean["id"])
