"""Who a debtor's message says it comes from: someone who is not the debtor (a wrong
number, a relative answering), or news of the debtor's death. Pure; reads the
normalised text (selfservice/normalize.py) and never the model: both signals change
who may be contacted, so they must not be lost when the message asks something else
too ("soy su mamá, dice que el viernes les paga", "él falleció, no llamen más").
"""

from __future__ import annotations

import re

THIRD_PARTY = "third_party"
DECEASED = "deceased"
PARTIES = (THIRD_PARTY, DECEASED)

RELATIVE = (
    r"(?:mama|papa|madre|padre|esposa|esposo|marido|mujer|hermano|hermana|hijo|hija|tia|tio|"
    r"abuela|abuelo|abuelita|abuelito|suegra|suegro|pareja|novia|novio|prima|primo|cunada|"
    r"cunado|sobrina|sobrino|nieta|nieto|vecina|vecino|jefe|jefa|companera|companero|amiga|"
    r"amigo|roomie)"
)
_EN_RELATIVE = (
    r"(?:mom|mother|dad|father|wife|husband|sister|brother|son|daughter|aunt|uncle|"
    r"grandmother|grandfather|neighbor|boss|friend|girlfriend|boyfriend)"
)
# Someone who is not the debtor writes: a wrong number or person, a number that changed
# hands, a relative or a colleague answering for the debtor.
_THIRD_PARTY = re.compile(
    r"\bnumero equivocado\b|^equivocad[oa]s?\b|\b(?:se|te|me) equivoc\w* de (?:persona|numero)\b|"
    r"\bequivocad[oa]s? de (?:persona|numero)\b|"
    r"\bno soy (?:yo|esa persona|la persona|quien (?:buscan|busca|dicen)|el titular|la titular|"
    r"el que buscan|la que buscan|el|ella|ese senor|esa senora|dicha persona)\b|"
    r"\b(?:este|ese|el|mi) (?:numero|celular|telefono|chip|whatsapp) (?:ya )?no es (?:de|del) "
    r"(?!mi\b)\w+|"
    r"\b(?:este|ese) (?:numero|celular|telefono|chip) (?:\w+ ){0,2}(?:es mio|lo tengo|lo compre|"
    r"me lo dieron|me lo asignaron)\b|\bme (?:compre|dieron|asignaron) (?:este|ese|el) (?:chip|"
    r"numero)\b|"
    r"\bno (?:es|era) mi (?:nombre|numero)\b|\bese no es mi nombre\b|"
    r"\b(?:ya )?no es (?:su|el) (?:numero|celular|telefono|whatsapp)\b|"
    r"\bno es (?:el|ella)(?: (?:es|soy|somos)\b|$)|"
    r"\b(?:aqui|aca) no (?:hay|existe|conocemos a) (?:ningun|ninguna|nadie)\b|"
    rf"\b(?:habla|hablan|hablas|esta hablando|escribe|escriben) con (?:su|la|el) {RELATIVE}\b|"
    r"\bno conozco a (?:esa|ese|esta|este|la|el|ningun|ninguna|nadie)\b|"
    r"\b(?:aqui|aca) no (?:vive|trabaja|labora)\b|\bno vive (?:aqui|aca)\b|\bya no (?:vive|trabaja|labora) "
    r"(?:aqui|aca|en)\b|\bnadie (?:con ese nombre|se llama)\b|\bno (?:es|era) (?:aqui|este "
    r"numero)\b|"
    rf"\bsoy (?:su|la|el) {RELATIVE}\b|\b(?:le|les) (?:paso|doy|dejo) (?:el|su) (?:mensaje|"
    r"recado)\b|"
    r"\bno (?:tiene|usa|ocupa) (?:ya )?(?:este|ese) (?:numero|celular|telefono|"
    r"chip|whatsapp)\b|"
    rf"\b(?:este|ese) es el (?:numero|celular|telefono|whatsapp) de (?:mi|su) {RELATIVE}\b|"
    rf"\b(?:la |esa |esta |el |ese |este )?(?:deuda|credito|prestamo|cuenta|tarjeta) (?:es|era) "
    rf"de (?:mi|su) {RELATIVE}\b|\b(?:mi|su) {RELATIVE} es (?:el|la|quien) que (?:debe|"
    r"saco|pidio|tiene la deuda)\b|"
    r"\b(?:el|ella) no (?:esta|se encuentra)\b|"
    rf"\b(?:le |les )?(?:habla|escribe) (?:su |la |el )?{RELATIVE}\b|"
    r"\b(?:le )?(?:presto|preste|prestaba|prestamos) (?:el|mi|este|ese) (?:cel|celular|telefono|"
    r"numero|chip|whatsapp) a\b|"
    r"\b(?:ya )?se (?:mudo|cambio de (?:casa|domicilio|direccion|ciudad|pais)|fue a vivir)\b|"
    r"\bwrong (?:number|person|guy|girl|name)\b|^wrong$|\b(?:thats|that is|this is|its|it is) "
    r"not (?:me|his|her)\b|\bnot (?:his|her) (?:number|phone)\b|\bi (?:dont|do not) know (?:who|"
    rf"this person|that person|him|her)\b|\bno one (?:by|with|named) (?:that|this)\b|\b(?:im|i am) "
    rf"(?:his|her) {_EN_RELATIVE}\b|\b(?:im|i am) not (?:the person|the one|him|her|that person|"
    r"who you)\b"
)

_DEATH = (
    r"(?:fallecio|fallecido|fallecida|murio|se murio|paso a mejor vida|descanse en paz|"
    r"descansa en paz|en paz descanse|qepd|ya no esta con nosotros|passed away|died|is dead|"
    r"deceased)"
)
_WHO = (
    rf"(?:el|ella|la senora|el senor|senora|senor|(?:el|la) titular|la persona|esa persona|"
    rf"ese senor|esa senora|(?:mi|su) {RELATIVE}|he|she|my {_EN_RELATIVE}|the (?:account )?"
    r"holder)"
)
# Someone's death: the one sought, or a relative ("mi papá falleció").
_DECEASED = re.compile(
    rf"\b{_WHO} (?:\w+ ){{0,4}}{_DEATH}\b|\b{_DEATH} (?:\w+ )?{_WHO}\b|\bacta de defuncion\b|"
    r"\bdeath certificate\b|\b(?:ya no esta con nosotros|en paz descanse|descanse en paz|qepd|"
    r"que e p de|q e p d|"
    r"passed away)\b|^(?:ya )?(?:fallecio|murio)\b"
)
# ... the writer's own hardship after a death in the family ("falleció mi esposo y no
# tengo cómo pagar"): the writer is the debtor, not the news of the debtor's death ...
_OWN_HARDSHIP = re.compile(
    r"\b(?:no (?:tengo|tenemos|puedo|podemos|he podido|hemos podido)|no (?:me|nos) (?:queda|"
    r"alcanza)|gastos|funeral|velorio|entierro|sepelio|yo no trabajo|sin (?:trabajo|chamba|"
    r"empleo|ingresos)|lo que (?:yo )?debo|(?:les|le) debo|mis pagos|mi pago|cubriendo|"
    r"paciencia|prorroga|(?:me|nos) (?:den|de) (?:tiempo|chance)|cant pay|cannot pay|"
    # ... or the writer's own grief and the time it asks: "estoy de luto", "denme chance
    # unos días", "después hablamos".
    r"(?:estoy|ando|estamos|andamos|me siento) (?:muy |bien |super |todavia |aun )?(?:mal|"
    r"triste|tristes|devastad[oa]s?|destrozad[oa]s?|deprimid[oa]s?|de luto|de duelo|sin cabeza|"
    r"afectad[oa]s?)|no (?:estoy|estamos) (?:bien|para|en condiciones)|de (?:luto|duelo)|"
    r"(?:denme|deme|dame|danme|me (?:den|de|das|dan)) (?:\w+ )?(?:chance|tiempo|unos dias|"
    r"oportunidad|tregua|plazo|espacio)|(?:despues|luego|mas adelante|otro dia) (?:hablamos|"
    r"les (?:escribo|hablo|marco|llamo|aviso)|nos (?:comunicamos|hablamos))|(?:les|le) "
    r"(?:escribo|hablo|marco|llamo|aviso|contacto|contesto) (?:\w+ ){0,2}(?:despues|luego|mas "
    r"adelante|otro dia|la otra semana|la proxima semana|en unos dias)|consideracion|"
    r"acabo de (?:enterrar|sepultar|perder)|perdi a (?:mi|mis)|(?:yo )?les pago|cuando pueda)\b"
)
# ... unless the words say the dead person was the one the debt is about, or the one
# they are asked not to contact ("ya no le escriban a este número"), whoever is named.
_DEATH_WORD = re.compile(rf"\b{_DEATH}\b")
_THEIRS = re.compile(
    r"\b(?:era de (?:el|ella)|era su|su (?:numero|telefono|celular|deuda|cuenta|credito)|"
    r"sus (?:deudas|cuentas|creditos|cosas|papeles|asuntos|tramites)|(?:ya )?no (?:le|lo|la) "
    r"(?:llamen|marquen|escriban|busquen|molesten|manden)|"
    r"titular|acta de defuncion|(?:que|como) (?:hago|hacemos|pasa) con (?:la|su|esa|esta) "
    r"deuda|la deuda (?:de|era)|a nombre de|this was (?:his|her)|account holder)\b"
)


def party(plain: str) -> str | None:
    """DECEASED when the text gives news of a death that is not the writer's own hardship,
    THIRD_PARTY when the writer says the number or the debt is someone else's or answers
    for the debtor, else None."""
    if _THEIRS.search(plain) and _DEATH_WORD.search(plain):
        return DECEASED  # "Juan murió en agosto, ya no le escriban a este número"
    if _DECEASED.search(plain) and (_THEIRS.search(plain) or not _OWN_HARDSHIP.search(plain)):
        return DECEASED
    if _THIRD_PARTY.search(plain):
        return THIRD_PARTY
    return None
