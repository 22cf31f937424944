
"""Regenerate the example datasets in this folder (deterministic: same seed, same files).

    python finetune/examples/make_examples.py

Every phrase part below was written by hand for the product; the script only combines them,
drops duplicates and shuffles. Check any change by reading a sample of the output.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------- food / not food (English)

FOOD_DISHES = [
    "chicken tikka masala", "margherita pizza", "beef lasagna", "pad thai with prawns", "caesar salad",
    "mushroom risotto", "fish and chips", "falafel wrap", "pork ramen", "vegetable curry", "cheeseburger",
    "spaghetti carbonara", "chicken quesadilla", "tuna poke bowl", "lentil soup", "bagel with cream cheese",
    "blueberry pancakes", "french onion soup", "shepherd's pie", "chicken shawarma", "greek salad",
    "beef burrito", "salmon sushi rolls", "eggs benedict", "chocolate brownie", "apple pie", "tiramisu",
    "banana bread", "cinnamon roll", "fried rice with egg", "tomato bruschetta", "club sandwich",
    "chili con carne", "paella with seafood", "pulled pork sliders", "vegan buddha bowl", "miso soup",
    "lemon cheesecake", "beef pho", "grilled halloumi", "chicken noodle soup", "mac and cheese",
    "steak frites", "hummus with pita", "dim sum basket", "butter chicken", "blt sandwich", "roast lamb",
    "fish tacos", "nachos", "teriyaki salmon", "chicken katsu curry", "spinach and ricotta cannelloni",
]
SWEETS_DRINKS = [
    "chocolate brownie", "apple pie", "tiramisu", "banana bread", "cinnamon roll", "lemon cheesecake", "carrot cake",
    "croissant", "fruit salad", "strawberry smoothie", "iced latte", "hot chocolate", "mango lassi",
    "granola with yogurt", "blueberry muffin", "sticky toffee pudding", "matcha latte", "pain au chocolat",
]
SWEET_FRAMES = [
    "{Dish}", "Homemade {dish}", "Vegan {dish}", "{Dish} to take away", "One {dish} for table six",
    "Freshly made {dish}", "Can I get a {dish} to go?", "Is the {dish} made in house?",
]
FOOD_FRAMES = [
    "{Dish}", "Homemade {dish}", "{Dish}, serves two", "Large {dish} to share", "Half portion of {dish}",
    "Order of {dish} for lunch", "{Dish}, no onions please", "Gluten-free {dish}", "Today's special: {dish}",
    "Kids' portion of {dish}", "Family-size {dish}", "Fresh {dish} made to order",
    "Leftover {dish} from last night", "I'd like the {dish}, please", "Can I get a {dish} to go?",
    "Frozen {dish}, ready in 10 minutes",
]
FOOD_GROCERY = [
    "1 kg of ripe bananas", "Organic whole milk, 1 litre", "Sourdough loaf", "Free-range eggs, dozen",
    "Greek yogurt 500 g", "Extra virgin olive oil 750 ml", "Basmati rice 2 kg", "Cheddar cheese block",
    "Smoked salmon slices", "Bag of baby spinach", "Dark chocolate bar 85%", "Roasted salted almonds",
    "Honey from local bees", "Tin of chopped tomatoes", "Frozen peas 1 kg", "Chicken thighs, skin on",
    "Ground coffee, medium roast", "Green tea bags (40)", "Fresh basil", "Avocados, pack of 4", "Pink lady apples",
    "Orange juice, not from concentrate", "Strawberry jam", "Peanut butter, crunchy", "Oat milk barista edition",
    "Tortilla chips", "Maple syrup", "Wholewheat pasta", "Canned chickpeas", "Sparkling water 6-pack",
    "Pack of blueberries", "Mozzarella di bufala", "Lean beef mince 500 g", "Sweet potatoes", "Red onions, 1 kg net",
    "Lemons", "Dried apricots", "Vanilla ice cream tub", "Butter croissants x4", "Rye crackers",
]
FOOD_SENTENCES = [
    "The soup was still warm when it arrived.", "We shared a plate of oysters by the harbour.",
    "She baked a lemon drizzle cake for the office.", "This curry needs a bit more salt.",
    "Grandma's meatballs are the best thing on the table.", "A bowl of cereal before school.",
    "Two scoops of pistachio gelato, please.", "The bread is still warm from the oven.",
    "Fresh mussels steamed in white wine.", "Crunchy granola bars for the hike.",
    "Slow-cooked beef ribs glazed in barbecue sauce.", "Spicy tuna roll with avocado.",
    "A glass of freshly squeezed orange juice.", "Dumplings filled with pork and chives.",
    "Roast vegetables drizzled with olive oil.", "Buttered popcorn at the cinema.",
    "Warm porridge with cinnamon and apples.", "Mini quiches for the party.",
    "Grilled corn on the cob with lime.", "Toasted cheese sandwich and tomato soup.",
]

NOT_FOOD_ITEMS = [
    "wireless mouse", "USB-C charging cable", "cotton t-shirt", "running shoes", "desk lamp", "yoga mat",
    "stainless steel water bottle", "bluetooth speaker", "paperback novel", "garden hose", "office chair",
    "winter jacket", "phone case", "laptop backpack", "hair dryer", "umbrella", "scented candle",
    "set of screwdrivers", "bath towel", "wool scarf", "kitchen scale", "frying pan", "chef's knife",
    "coffee mug", "dinner plates", "cutting board", "vacuum cleaner", "electric toothbrush", "sunglasses",
    "notebook", "ballpoint pens", "printer paper", "hdmi cable", "smartwatch", "bicycle helmet",
    "tennis racket", "dog leash", "cat litter", "plant pot", "LED light bulbs", "shower curtain",
    "pillowcase", "board game", "jigsaw puzzle", "car phone holder", "power bank", "headphones",
    "reading glasses", "wall clock", "ironing board", "laundry detergent", "dish soap", "shampoo",
    "sunscreen spf 50", "toothpaste", "first aid kit", "batteries AA", "extension cord", "picture frame",
]
NOT_FOOD_FRAMES = [
    "{Item}", "{Item}, best seller", "{Item}, pack of 2", "New {item} on sale", "Second-hand {item} in good condition",
    "{Item} with free delivery", "Replacement {item}", "Compact {item} for travel", "{Item}, 2024 model",
    "Looking for a cheap {item}", "My {item} broke yesterday", "Gift-wrapped {item}",
    "{Item} (eco-friendly)", "Return label for the {item}", "Is the {item} in stock?",
]
NOT_FOOD_SENTENCES = [
    "The train to Leeds is delayed by twenty minutes.", "Please water the plants while I'm away.",
    "Our wifi password changed on Monday.", "The meeting moved to 3 pm.", "I need to renew my passport.",
    "The printer on the second floor is jammed again.", "Book a haircut for Saturday morning.",
    "The car needs new tyres before winter.", "Remember to bring your library card.",
    "The dentist appointment is on Thursday.", "Invoice #4821 is overdue.", "Fix the leaking tap in the bathroom.",
    "Cookbook with 100 easy pasta recipes", "Recipe notebook, hardcover", "Pizza cutter wheel",
    "Lunch box with three compartments", "Insulated picnic bag", "Restaurant gift card, 50 dollars",
    "Apple charging cable for iPhone", "Orange paint for the fence", "Ceramic salad bowl",
    "Bread maker machine", "Cocktail shaker set", "Wooden spoon set", "Food storage containers",
    "Table reservation for four at 8 pm", "The kitchen floor needs mopping.", "Candy-striped wrapping paper",
    "Cherry wood bookshelf", "Honey-coloured leather sofa", "Peach-coloured bath towels",
]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def food_or_not(rng: random.Random) -> list[tuple[str, str]]:
    rows: set[tuple[str, str]] = set()
    for s in FOOD_GROCERY + FOOD_SENTENCES:
        rows.add((s, "food"))
    for s in NOT_FOOD_SENTENCES:
        rows.add((s, "not_food"))
    dishes = FOOD_DISHES[:]
    rng.shuffle(dishes)
    for i, dish in enumerate(dishes):  # each dish in two different frames
        for frame in rng.sample(FOOD_FRAMES, 2):
            rows.add((frame.format(dish=dish, Dish=_cap(dish)), "food"))
    for dish in SWEETS_DRINKS:
        for frame in rng.sample(SWEET_FRAMES, 2):
            rows.add((frame.format(dish=dish, Dish=_cap(dish)), "food"))
    items = NOT_FOOD_ITEMS[:]
    for item in items:
        for frame in rng.sample(NOT_FOOD_FRAMES, 2):
            rows.add((frame.format(item=item, Item=_cap(item)), "not_food"))
    return sorted(rows)


# --------------------------------------------------------------------------- school subjects (Spanish)

SUBJECT_TOPICS = {
    "Matemáticas": [
        "las ecuaciones de segundo grado", "el teorema de Pitágoras", "las fracciones", "los porcentajes",
        "las derivadas", "los logaritmos", "el mínimo común múltiplo", "las funciones lineales",
        "la probabilidad de sacar dos seises", "el área del círculo", "los sistemas de ecuaciones",
        "la trigonometría", "las matrices", "la raíz cuadrada de 144", "los números primos",
    ],
    "Lengua y literatura": [
        "el análisis sintáctico", "los complementos del verbo", "la generación del 27", "el Quijote",
        "las figuras retóricas", "los tiempos verbales", "la tilde diacrítica", "el comentario de texto",
        "la poesía de Machado", "las oraciones subordinadas", "el Lazarillo de Tormes", "los géneros literarios",
        "la novela picaresca", "las reglas de la b y la v", "el resumen del libro de lectura",
    ],
    "Historia": [
        "la Revolución francesa", "la Segunda Guerra Mundial", "los Reyes Católicos", "la Guerra Civil española",
        "el Imperio romano", "la Edad Media", "la caída del muro de Berlín", "la Revolución industrial",
        "el descubrimiento de América", "la Transición española", "los faraones de Egipto", "la Guerra Fría",
        "la Ilustración", "el feudalismo", "la Reconquista",
    ],
    "Geografía": [
        "los ríos de España", "las capitales de Europa", "el clima mediterráneo", "las placas tectónicas",
        "la pirámide de población", "los continentes y océanos", "el relieve de la península", "las coordenadas geográficas",
        "los climas de América del Sur", "las comunidades autónomas", "el mapa político de África",
        "la densidad de población", "los volcanes de Canarias", "las cordilleras más altas del mundo", "el éxodo rural",
    ],
    "Física y química": [
        "la tabla periódica", "las leyes de Newton", "los enlaces covalentes", "la velocidad y la aceleración",
        "el número de Avogadro", "las reacciones redox", "la ley de Ohm", "los estados de la materia",
        "el ajuste de reacciones químicas", "la energía cinética", "la densidad del agua", "los isótopos",
        "el movimiento rectilíneo uniforme", "la formulación inorgánica", "los circuitos en serie",
    ],
    "Idiomas extranjeros": [
        "el present perfect en inglés", "los verbos irregulares ingleses", "el vocabulario de francés",
        "la pronunciación del alemán", "el listening de inglés", "el passé composé", "los phrasal verbs",
        "el writing en inglés", "los artículos en alemán", "la redacción en francés", "el speaking con la auxiliar de conversación",
        "el condicional en inglés", "el examen oral de francés", "los false friends", "las preposiciones en inglés",
    ],
    "Educación Física": [
        "la prueba de resistencia", "el calentamiento antes de correr", "el partido de baloncesto", "los estiramientos",
        "el circuito de gimnasia", "la carrera de relevos", "el test de Cooper", "las volteretas en la colchoneta",
        "el voleibol", "la frecuencia cardiaca en reposo", "el salto de longitud", "los abdominales",
        "el torneo de fútbol sala", "la expresión corporal", "el bádminton",
    ],
    "Artes": [
        "el dibujo en perspectiva", "la flauta dulce", "el cuadro de Las Meninas", "las acuarelas",
        "el círculo cromático", "la partitura de la canción", "la escultura con arcilla", "el arte barroco",
        "los colores primarios y secundarios", "el coro del colegio", "el autorretrato", "el claroscuro",
        "el ritmo en cuatro por cuatro", "el mural del pasillo", "la obra de Picasso",
    ],
    "Religión": [
        "las parábolas de Jesús", "el Antiguo Testamento", "las grandes religiones del mundo", "la Semana Santa",
        "los sacramentos", "el islam y sus cinco pilares", "la historia de Moisés", "el budismo",
        "los evangelios", "el significado de la Navidad", "la vida de San Francisco de Asís", "el judaísmo",
        "los diez mandamientos", "el Ramadán", "las catedrales góticas como lugares de culto",
    ],
}
SUBJECT_FRAMES = [
    "No entiendo {t}, ¿me lo explicas?", "Mañana tenemos examen sobre {t}.", "La profesora nos mandó un trabajo sobre {t}.",
    "¿Alguien tiene los apuntes de {t}?", "Hoy en clase hemos visto {t}.", "Tengo que repasar {t} este fin de semana.",
    "¿Qué entra en el control de {t}?", "Me ha salido fatal el ejercicio de {t}.", "Necesito ayuda con {t}.",
    "El libro explica muy mal {t}.", "¿Me haces un esquema de {t}?", "Saqué un nueve en lo de {t}.",
]
SUBJECT_EXTRA = {
    "Matemáticas": ["¿Cuánto es 3/4 más 2/5?", "Resuelve x² - 5x + 6 = 0.", "¿Cómo se calcula el volumen de un cilindro?"],
    "Lengua y literatura": ["¿Quién escribió Bodas de sangre?", "¿Qué es un hiato?", "Tengo que leer La casa de Bernarda Alba para el lunes."],
    "Historia": ["¿En qué año empezó la Primera Guerra Mundial?", "¿Quién fue Napoleón Bonaparte?", "¿Por qué cayó el Imperio romano de Occidente?"],
    "Geografía": ["¿Cuál es el río más largo de la Península Ibérica?", "¿Cuál es la capital de Australia?", "Tengo que colorear el mapa de Asia."],
    "Física y química": ["¿Cuál es la fórmula del ácido sulfúrico?", "¿A qué velocidad cae un objeto en el vacío?", "¿Cuántos electrones tiene el átomo de carbono?"],
    "Idiomas extranjeros": ["How do you say 'estantería' in English?", "¿Cómo se conjuga être en presente?", "Tengo que escribir un email en inglés a un amigo imaginario."],
    "Educación Física": ["Hoy hay que traer chándal y zapatillas.", "Me torcí el tobillo jugando al balonmano.", "¿Cuántas vueltas a la pista hay que correr?"],
    "Artes": ["Hay que traer ceras y cartulina para plástica.", "¿Qué notas lleva la canción de la flauta?", "El viernes vamos al museo a ver cuadros impresionistas."],
    "Religión": ["¿Qué se celebra en Pentecostés?", "¿Quiénes eran los doce apóstoles?", "El profesor de religión nos habló de la Cuaresma."],
}
NINGUNA = [
    "¿A qué hora sale el autobús del colegio?", "Mi perro se llama Toby y tiene tres años.", "¿Quedamos el sábado para ir al cine?",
    "Se me ha olvidado el bocadillo en casa.", "Hoy hace muchísimo calor.", "¿Me prestas un boli?", "Mi hermana cumple años el martes.",
    "La cafetería cierra a las cinco.", "¿Has visto el último capítulo de la serie?", "Mañana no hay clase por la huelga.",
    "Tengo que cargar el móvil.", "¿Dónde está la secretaría?", "Me duele la cabeza desde esta mañana.",
    "El ascensor está roto otra vez.", "¿Cuánto cuesta el menú del comedor?", "Mis padres vienen a la reunión del jueves.",
    "Perdí las llaves de la taquilla.", "Vamos a pedir pizza esta noche.", "¿Alguien sabe el wifi de la biblioteca?",
    "Este verano vamos a ir a la playa.", "Mi abuela hace unas croquetas buenísimas.", "El autobús llegó tarde otra vez.",
    "Tengo entrenamiento de fútbol a las siete.", "¿Te vienes al parque después?", "Necesito comprar una mochila nueva.",
    "La excursión se ha aplazado por la lluvia.", "Hoy me toca sacar la basura.", "¿Quién ha cogido mi sudadera?",
    "Me he apuntado a clases de guitarra los martes.", "¿Sabes si el martes es festivo?", "No encuentro mi carné de estudiante.",
    "Quiero cortarme el pelo este fin de semana.", "Se ha ido la luz en todo el barrio.", "Me encanta el chocolate con churros.",
    "Mi primo vive en Valencia.", "¿Has traído la autorización firmada?", "Ayer vi una película de miedo.",
    "Hay que rellenar la matrícula antes del viernes.", "Los baños del segundo piso están cerrados.", "¿Me pasas el número de tu madre?",
]


def school_subjects(rng: random.Random) -> list[tuple[str, str]]:
    rows: set[tuple[str, str]] = set()
    for subject, topics in SUBJECT_TOPICS.items():
        for topic in topics:
            for frame in rng.sample(SUBJECT_FRAMES, 2):
                text = frame.format(t=topic).replace(" de el ", " del ").replace(" a el ", " al ")
                rows.add((text[0].upper() + text[1:], subject))
        for s in SUBJECT_EXTRA[subject]:
            rows.add((s, subject))
    for s in NINGUNA:
        rows.add((s, "ninguna"))
    return sorted(rows)


# --------------------------------------------------------------------------- restaurant reviews (Spanish)

POS = [
    "la paella estaba en su punto", "el camarero fue muy atento", "las croquetas, espectaculares", "el precio es muy razonable",
    "el postre casero nos encantó", "la terraza es preciosa", "nos atendieron enseguida", "el pulpo a la gallega, de diez",
    "las raciones son generosas", "el ambiente es tranquilo y agradable", "la carne estaba tiernísima", "el vino de la casa, muy rico",
    "nos recomendaron muy bien", "todo salía recién hecho", "el local está impecable", "la tortilla, jugosa como pocas",
    "el menú del día es una maravilla", "el personal es encantador", "la relación calidad-precio es excelente",
    "el pescado era fresquísimo", "tienen opciones veganas muy buenas", "el servicio fue rapidísimo",
]
NEG = [
    "la comida llegó fría", "tardaron casi una hora en servirnos", "el camarero fue bastante borde", "la cuenta fue carísima para lo que es",
    "el arroz estaba pasado", "había mucho ruido", "las raciones son ridículas", "el baño estaba sucio",
    "nos cobraron un pan que no pedimos", "la carne estaba dura como una suela", "se equivocaron con el pedido dos veces",
    "el pescado no olía a fresco", "nadie nos atendía", "las patatas eran congeladas", "hacía un calor insoportable dentro",
    "el postre era industrial", "la sopa estaba salada a más no poder", "nos trataron con prisas para que nos fuéramos",
    "la mesa estaba pegajosa", "el vino estaba caliente",
]
NEU = [
    "la comida estaba correcta, sin más", "el servicio fue normal", "precios en la media de la zona", "un sitio como tantos otros",
    "ni bueno ni malo", "el menú es el típico de cualquier bar", "cumple para comer rápido", "la carta es corta",
    "abren a las 13:00 y la cocina cierra a las 16:00", "está al lado de la estación", "tienen menú del día por 12 euros",
    "aceptan tarjeta", "hay que reservar los fines de semana", "la decoración es sencilla", "el local es pequeño, unas diez mesas",
    "no tienen terraza", "las raciones son normales", "sirven desayunos y comidas",
]
POS_OPEN = ["", "Volveremos seguro. ", "Muy recomendable. ", "¡Qué descubrimiento! ", "Cena de cumpleaños perfecta. "]
NEG_OPEN = ["", "No volveremos. ", "Qué decepción. ", "Experiencia lamentable. ", "No lo recomiendo. "]
NEU_OPEN = ["", "Fuimos a mediodía. ", "Comida de trabajo. ", "Paramos de camino. ", "Sin grandes sorpresas. "]
NEU_MIXED = [  # a good and a bad point that cancel out: "neutral" in the sense of a middling verdict
    ("la comida estaba buena", "el servicio fue muy lento"), ("el sitio es bonito", "la comida es del montón"),
    ("el precio es bueno", "las raciones son pequeñas"), ("el camarero fue majo", "el arroz estaba algo soso"),
    ("los entrantes bien", "los segundos flojos"),
]


def _sentence(parts: list[str]) -> str:
    return " ".join(p[0].upper() + p[1:] + "." for p in parts)


def reviews(rng: random.Random) -> list[tuple[str, str]]:
    rows: set[tuple[str, str]] = set()
    for label, pool, opens, n in (("positivo", POS, POS_OPEN, 110), ("negativo", NEG, NEG_OPEN, 110),
                                  ("neutral", NEU, NEU_OPEN, 80)):
        tries = 0
        while sum(1 for _, lab in rows if lab == label) < n and tries < 10_000:
            tries += 1
            k = rng.choice([1, 2, 2, 3])
            text = rng.choice(opens) + _sentence(rng.sample(pool, k))
            rows.add((text.strip(), label))
    for good, bad in NEU_MIXED:
        rows.add((_sentence([good]) [:-1] + f", pero {bad}.", "neutral"))
        rows.add((_sentence([bad])[:-1] + f", aunque {good}.", "neutral"))
    return sorted(rows)


def write(path: Path, rows: list[tuple[str, str]], rng: random.Random) -> None:
    rows = rows[:]
    rng.shuffle(rows)
    texts = [t for t, _ in rows]
    assert len(texts) == len(set(texts)), f"{path.name}: duplicate texts"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)


def main() -> None:
    rng = random.Random(10)
    for name, fn in (("food_or_not_en.csv", food_or_not), ("school_subjects_es.csv", school_subjects),
                     ("reviews_es.csv", reviews)):
        rows = fn(rng)
        write(HERE / name, rows, rng)
        counts: dict[str, int] = {}
        for _, lab in rows:
            counts[lab] = counts.get(lab, 0) + 1
        print(name, len(rows), counts)


if __name__ == "__main__":
    main()
