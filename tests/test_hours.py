"""Opening hours parsed from policy text (pure functions)."""

from __future__ import annotations

import pytest

from rag.hours import DayHours, asked_day, hours_sentence, parse_hours

BELLA = """## Horario
- Abierto de martes a domingo.
- Martes a jueves: 12:00–22:00.
- Viernes y sábado: 12:00–23:00.
- Domingo: 12:00–21:00.
- Lunes: cerrado.
"""


def test_spanish_ranges_lists_and_closed_days():
    table = parse_hours(BELLA)
    assert table[0] == DayHours(None, None)
    assert [table[d] for d in (1, 2, 3)] == [DayHours("12:00", "22:00")] * 3
    assert table[4] == table[5] == DayHours("12:00", "23:00")
    assert table[6] == DayHours("12:00", "21:00")


def test_english_statements_share_a_line_and_times_keep_their_spelling():
    table = parse_hours("- Monday to Saturday: 10:00 am - 8:00 pm. Sunday: 11:00 am - 6:00 pm.")
    assert table[0] == table[5] == DayHours("10:00 am", "8:00 pm")
    assert table[6] == DayHours("11:00 am", "6:00 pm")
    assert parse_hours("Mon-Fri: 9am-5pm; Sat and Sun: closed") == {
        **{d: DayHours("9am", "5pm") for d in range(5)}, 5: DayHours(None, None), 6: DayHours(None, None)}


def test_text_without_day_statements_has_no_hours():
    assert parse_hours("Abierto de martes a domingo.\nCommon questions: 12 answers") == {}


@pytest.mark.parametrize(("question", "day"), [
    ("¿A qué hora abren los domingos?", 6),
    ("Are you open on Monday?", 0),
    ("¿Cuál es el horario del sábado?", 5),
    ("What time do you close on Friday?", 4),
    ("Do you deliver on Sunday?", None),  # not about opening hours
    ("Are you open on Saturday and Sunday?", None),  # two days: left to the model
])
def test_asked_day(question, day):
    assert asked_day(question) == day


def test_sentences_answer_yes_no_questions_with_yes_or_no():
    table = parse_hours(BELLA)
    assert hours_sentence("Are you open on Monday?", 0, table[0], "en") == "No, we are closed on Mondays."
    assert hours_sentence("¿Abren los domingos?", 6, table[6], "es") == "Sí, los domingos abrimos a las 12:00 y cerramos a las 21:00."
    assert hours_sentence("¿A qué hora abren los domingos?", 6, table[6], "es") == \
        "Los domingos abrimos a las 12:00 y cerramos a las 21:00."
