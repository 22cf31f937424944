"""Opening hours read from a policy/info section, so "¿Abren los lunes?" is answered exactly.

Opening hours are the question every shop gets most, and the small model gets them wrong in
telling ways: it answers the closing time for "¿a qué hora abren?" and refuses "Are you open on
Monday?" over a Spanish "Lunes: cerrado.". Lines such as ``Domingo: 12:00–21:00.``,
``Monday to Saturday: 10:00 am - 8:00 pm. Sunday: 11:00 am - 6:00 pm.``, ``Viernes y sábado:
12:00–23:00.`` or ``Lunes: cerrado.`` are parsed into a weekday table (English or Spanish day
names, ranges with to/a/-, lists with and/y); times are kept exactly as the row writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexicon import WORDS
from rag.text import normalise

DAYS = {  # accent-free, lower case -> 0 = Monday
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
    "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5, "sun": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5, "domingo": 6,
}
DAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábados", "domingos"),
}
_DAY = r"\b(?:" + "|".join(sorted(DAYS, key=len, reverse=True)) + r")s?\b"
_TIME = r"\d{1,2}(?::\d{2})?\s*(?:[ap]\.?\s?m\.?)?"
_SPEC = re.compile(
    rf"(?P<days>{_DAY}(?:\s*(?:-|–|,|\bto\b|\ba\b|\bthrough\b|\bhasta\b|\band\b|\by\b)\s*{_DAY})*)\s*:\s*"
    rf"(?:(?:de\s+|from\s+)?(?P<open>{_TIME})\s*(?:-|–|—|to|a|hasta)\s*(?P<close>{_TIME})|(?P<closed>closed|cerrado|cerrada))",
)
_DAY_WORD = re.compile(_DAY)
# the question asks about opening hours ("¿a qué hora abren?", "are you open", "hours", "cierran")
ASKS_HOURS = re.compile(
    r"\b(open|opens|opening|close|closes|closing|hours|abre|abren|abris|abierto|abierta|cierra|cierran|cerrado|horario|"
    r"what time|a que hora)\b"
)
YES_NO = re.compile(r"^\W*(are you|is it|is the \w+|do you|abren|abre|esta|estan|abris)\b")


@dataclass(frozen=True)
class DayHours:
    open: str | None  # as written in the row, e.g. "12:00" or "10:00 am"; None when closed
    close: str | None


def parse_hours(text: str) -> dict[int, DayHours]:
    """Weekday (0 = Monday) -> hours, from every ``days: hours`` statement in ``text``.

    "Lunes: cerrado." and "Martes a jueves: 12:00–22:00." both count; a day stated twice keeps
    its first statement. Text without such statements gives an empty table.
    """
    table: dict[int, DayHours] = {}
    for line in text.splitlines():
        norm = normalise(line)
        if len(norm) != len(line):  # offsets must match to copy times as written
            norm = line.lower()
        for m in _SPEC.finditer(norm):
            days = _days(m.group("days"))
            hours = DayHours(None, None) if m.group("closed") else DayHours(
                _as_written(line[m.start("open"):m.end("open")]), _as_written(line[m.start("close"):m.end("close")]))
            for d in days:
                table.setdefault(d, hours)
    return table


def _as_written(time: str) -> str:
    """The time as the row writes it, without the sentence's full stop ("8:00 pm." -> "8:00 pm")."""
    time = time.strip()
    return time[:-1] if re.search(r"\d\.$|[ap]m\.$", time, re.IGNORECASE) else time


def _day(word: str) -> int:
    return DAYS[word] if word in DAYS else DAYS[word[:-1]]  # "domingos" -> "domingo"


def _days(spec: str) -> list[int]:
    """'martes a jueves' -> [1, 2, 3]; 'viernes y sabado' -> [4, 5]; 'monday' -> [0]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|\band\b|\by\b)\s*", spec):
        found = [_day(w) for w in _DAY_WORD.findall(part)]
        if len(found) == 2 and re.search(r"-|–|\bto\b|\ba\b|\bthrough\b|\bhasta\b", part):
            a, b = found
            out += [(a + i) % 7 for i in range((b - a) % 7 + 1)]
        else:
            out += found
    return out


def asked_day(question: str) -> int | None:
    """The single weekday a question asks about ("¿abren los domingos?" -> 6), else None."""
    q = normalise(question)
    if not ASKS_HOURS.search(q):
        return None
    found = {_day(w) for w in _DAY_WORD.findall(q)}
    return found.pop() if len(found) == 1 else None


def hours_sentence(question: str, day: int, hours: DayHours, language: str) -> str:
    """The answer for one weekday, yes/no first when the question is a yes/no one."""
    yes_no = bool(YES_NO.search(normalise(question)))
    w, name = WORDS[language], DAY_NAMES[language][day]
    if hours.open is None:
        return (w.closed_yes_no if yes_no else w.closed).format(day=name)
    return (w.opens_yes_no if yes_no else w.opens).format(day=name, open=hours.open, close=hours.close)
