"""Debtor text made comparable: bounded, lower case, no accents, SMS shorthand spelt
out ("q" -> "que", "wsp" -> "whatsapp"), stretched letters cut ("holaaa") and typos
mended against the classifier's vocabulary with rapidfuzz. Pure; bounded work on any
input (a long text is cut to its head and tail, MAX_CHARS and MAX_TOKENS in all, before
anything else runs).
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_CHARS = 1000  # a debtor's message longer than this is read in its head and its tail
MAX_TOKENS = 120
# Of a longer message, its last characters and words are read too: a long story often
# ends with what it asks ("... por eso ya no me llamen"). The gap between head and tail
# is a token no rule reads across.
TAIL_CHARS = 300
TAIL_TOKENS = 40
GAP = "|"
MIN_FUZZY_LEN = 4  # shorter words are too ambiguous to mend ("pa", "ya", "te")

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_STRETCHED = re.compile(r"([a-z])\1{2,}")  # "holaaaa" -> "hola"; "llamen" keeps its "ll"

# Written shorthand of SMS/WhatsApp Spanish (MX, CO, PE), one token -> its words.
SHORTHAND: dict[str, str] = {
    "q": "que", "k": "que", "ke": "que", "qe": "que", "qu": "que",
    "xq": "porque", "pq": "porque", "xk": "porque", "porq": "porque", "pork": "porque",
    "x": "por", "d": "de", "dl": "del", "m": "me", "t": "te", "n": "en",
    "tb": "tambien", "tmb": "tambien", "tmbn": "tambien",
    "xfa": "por favor", "xfavor": "por favor", "porfa": "por favor", "porfis": "por favor",
    "plis": "por favor", "pls": "por favor", "plz": "por favor", "porfavor": "por favor",
    "msj": "mensajes", "msjs": "mensajes", "mjs": "mensajes", "mensage": "mensaje",
    "mensages": "mensajes", "mnsj": "mensajes", "sms": "sms", "smss": "sms",
    "wa": "whatsapp", "wsp": "whatsapp", "wpp": "whatsapp", "whats": "whatsapp",
    "wats": "whatsapp", "watsap": "whatsapp", "wasap": "whatsapp", "guasap": "whatsapp",
    "whatsap": "whatsapp", "wapp": "whatsapp", "whastapp": "whatsapp", "wasa": "whatsapp",
    "watsapp": "whatsapp", "whatapp": "whatsapp", "watssap": "whatsapp", "whatssap": "whatsapp",
    "mail": "correo", "email": "correo", "emails": "correos", "mails": "correos",
    "cel": "celular", "tel": "telefono", "tlf": "telefono", "fono": "telefono",
    "dnd": "donde", "cdo": "cuando", "qdo": "cuando", "cnd": "cuando",
    "toy": "estoy", "sta": "esta", "stoy": "estoy", "aki": "aqui", "ai": "ahi",
    "oie": "oye", "ola": "hola", "holis": "hola", "holi": "hola", "hla": "hola",
    "bn": "bien", "bno": "bueno", "bns": "buenas", "grax": "gracias", "grs": "gracias",
    "grcs": "gracias", "gcs": "gracias", "gras": "gracias", "ntp": "no te preocupes",
    "tdo": "todo", "tds": "todos", "ps": "pues", "pss": "pues", "pa": "para",
    "pal": "para el", "info": "informacion", "cta": "cuenta", "pgo": "pago",
    "lq": "lo que", "nd": "nada", "nda": "nada", "tonces": "entonces",
    "ahorra": "ahora", "orita": "ahorita", "horita": "ahorita", "ahoritita": "ahorita",
    "mñn": "manana", "mna": "manana", "mnn": "manana", "mañna": "manana",
    "asesr": "asesor", "acesor": "asesor", "acesora": "asesora",
    "bot": "robot", "dinero": "dinero", "lana": "dinero", "plata": "dinero", "varo": "dinero",
    "billete": "dinero", "luca": "dinero", "lucas": "dinero", "feria": "dinero",
    "pagé": "pague", "pagè": "pague", "page": "pague",
    "xa": "para", "vdd": "verdad", "sr": "senor", "sra": "senora", "srta": "senorita",
    "hi": "hola", "hello": "hola", "alo": "alo", "aló": "alo",
    # Days and times as they are cut short: "el vier le pago", "dsp de las 5".
    "lun": "lunes", "mier": "miercoles", "mie": "miercoles", "juev": "jueves",
    "vier": "viernes", "vie": "viernes", "sab": "sabado", "dom": "domingo",
    "finde": "fin de semana", "dsp": "despues", "dps": "despues", "hrs": "horas",
    "sem": "semana", "prox": "proximo", "quinc": "quincena",
}  # fmt: skip


def words(text: str) -> frozenset[str]:
    """The words of a text written as a block (for word lists)."""
    return frozenset(text.split())


# Words the typo mender must leave alone although they are near a keyword ("cuento"
# is not "cuanto", "llamo" is not "llame"): common Spanish of debtors' messages.
COMMON_WORDS = words("""
a al algo alguien algun alguna ahi ahora ahorita aqui asi aun aunque ayer bien buen
bueno buena cada casa cosa como con contra cual cuales cuando cuanto cuanta cuantos
cuantas de del desde donde dos el ella ellos en entonces era eres es esa ese eso esta
este esto estoy estan estas fue fui gracias hace hacer hay hoy la las le les lo los
luego mal mas me mi mis mio mia mucho muy nada ni no nos nunca o otra otro para pero
poco por porque pues que quien se ser si sin sobre solo son su sus tambien tan tanto
te tengo tiene tienen todo todos tu tus un una uno unos usted ustedes va vamos van vez
y ya yo ok okay vale sale listo perfecto claro dale bueno oye mire mira oiga senor
senora senorita joven amigo amiga mama papa hijo hija esposa esposo familia trabajo
chamba jefe numero nombre llamo llama llamas llaman llamado llamada llamadas llamaron
cuento cuenta cuentas cuentan dia dias semana semanas mes meses ano anos hora horas
minuto momento tarde tardes noche noches manana mananas lunes martes miercoles jueves
viernes sabado domingo enero febrero marzo abril mayo junio julio agosto septiembre
setiembre octubre noviembre diciembre quincena fin principio mitad medio primera
primero segunda segundo tercera ultimo ultima proximo proxima siguiente pasado pasada
cobro cobran cobrar cobranza cobrando cobraron banco tarjeta credito prestamo deuda
deudas dinero sueldo quincena aguinaldo tiempo favor necesito necesita quiero quisiera
queria puedo puede pueden podria podrian tengo tenia tuve hice hizo mande mandaron
manda mandan mando envio enviaron recibi recibo llego llegaron paso pasa pasan pase
dijeron dicen dijo dice digo sabe se sabes saber ver veo vi visto mensaje mensajes
telefono celular correo correos whatsapp sms texto textos robot persona personas humano
real nadie cosa cosas problema problemas ayuda ayudar ayudame ayudeme entiendo entendi
entiende claro verdad mentira jaja jajaja jeje xd ok si sip simon nel nop neta chido
padre bacano chevere pata causa pe pues oe parce parcero mano wey guey pana vaina
tipo como hermano hermana pinche chimba marica bro carnal compa cuate jamas error
sistema banco bancos referencia referencias temprano nadie corresponde pertenece
revisen revisar revise seguro segura serio seria empresa oficina medio medios
saco saque sacaron debiendo debia debiera recibi recibio nombre permiso contacto
informacion ayuda atencion estado pasa paso pasado sepa sabe correr corren corrieron
explique explica cargos cargo compras compra consumo consumos
""")


# Emoji that say something a debtor may send alone: read as their words.
EMOJI: dict[str, str] = {
    "\U0001f44d": " ok ", "\U0001f44c": " ok ", "\u2705": " ok ", "\u2714": " ok ",
    "\U0001f64f": " gracias ", "\U0001f44b": " hola ",
    # A stop sign or "no entry" sent alone is a stop; "no phones" is no calls.
    "\U0001f6d1": " stop ", "\u26d4": " stop ", "\U0001f4f5": " no llamadas ",
}  # fmt: skip
_EMOJI = re.compile("|".join(map(re.escape, EMOJI)))
# English contractions kept one word ("don't" -> "dont", "I'm" -> "im"): split at the
# apostrophe, "t" and "m" would be read as the shorthand "te" and "me".
_APOSTROPHE = re.compile(r"(?<=[a-z])['`\u00b4\u2019](?=[a-z])")
# "whats" is WhatsApp in Spanish messages, "what is" before an English word.
_WHATS = re.compile(r"\bwhats (?=(?:my|the|your|this|that|up|going|is|it)\b)")


def bounded(text: str) -> str:
    """The text when it has MAX_CHARS characters or fewer; else its head and its last
    TAIL_CHARS characters with GAP between them (MAX_CHARS in all)."""
    if len(text) <= MAX_CHARS:
        return text
    return text[: MAX_CHARS - TAIL_CHARS - 3] + f" {GAP} " + text[-TAIL_CHARS:]


def fold(text: str) -> str:
    """Lower case, accents off ("ñ" -> "n"), a few emoji as words ("👍" -> "ok"),
    English contractions one word ("don't" -> "dont", "what's my" -> "what is my"),
    anything else but letters and digits a space; a long text's head and tail only
    (bounded), with GAP between them."""
    if len(text) > MAX_CHARS:
        head, tail = bounded(text).split(f" {GAP} ", 1)
        return f"{_fold(head)} {GAP} {_fold(tail)}".strip()
    return _fold(text)


# What a gateway or an export writes for an attachment, a voice note or a deleted
# message: nothing the debtor wrote ("<Multimedia omitido>", "Audio (0:14)", "🎤 Nota de
# voz", "<attached: ...opus>", "Este mensaje fue eliminado"); its caption is read.
_PLACEHOLDER = re.compile(
    r"<?(?:multimedia|media|audio|imagen|image|video|sticker|gif|documento|document|archivo|"
    r"foto|photo)s? (?:omitid[oa]s?|omitted)>?|<attached:[^>]{0,200}>|"
    r"\b(?:(?:nota|mensaje|message|note) de voz|voice (?:note|message))(?:\s*\(?\d{1,2}:\d{2}\)?)?|"
    r"\b(?:audio|video|foto|photo|imagen|image|nota de voz)\s*\(?\d{1,2}:\d{2}\)?|"
    r"\b(?:este )?mensaje (?:fue )?eliminado\b|\bthis message was deleted\b|"
    r"\[(?:audio|image|imagen|video|sticker|foto|photo|attachment|adjunto|archivo|nota de voz)\]|"
    r"[\U0001f3a4\U0001f4ce\U0001f4f7\U0001f4f8\U0001f3a5\U0001f5bc\U0001f399]",
    re.IGNORECASE,
)


def _fold(text: str) -> str:
    cut = _EMOJI.sub(lambda m: EMOJI[m.group(0)], _PLACEHOLDER.sub(" ", text))
    cut = _APOSTROPHE.sub("", cut.lower())
    plain = unicodedata.normalize("NFKD", cut).encode("ascii", "ignore").decode("ascii")
    return _WHATS.sub("what is ", _NOT_WORD.sub(" ", plain).strip())


def tokens(text: str) -> list[str]:
    """fold(text) split in words, stretched letters cut, shorthand spelt out; of more
    than MAX_TOKENS words, the first ones and the last TAIL_TOKENS with GAP between."""
    said = fold(text).split()
    if len(said) > MAX_TOKENS:
        said = [*said[: MAX_TOKENS - TAIL_TOKENS - 1], GAP, *said[-TAIL_TOKENS:]]
    words: list[str] = []
    for raw in said:
        word = _STRETCHED.sub(r"\1", raw)
        words.extend(SHORTHAND.get(word, word).split())
    return words


# Spanish spelt by ear: "ll"/"y", "b"/"v", "s"/"z"/"c", "k"/"qu"/"c", a silent "h".
_SOUNDS = (
    (re.compile(r"ll"), "y"), (re.compile(r"v"), "b"), (re.compile(r"z"), "s"),
    (re.compile(r"c(?=[ei])"), "s"), (re.compile(r"qu(?=[ei])"), "k"), (re.compile(r"q"), "k"),
    (re.compile(r"c(?![h])"), "k"), (re.compile(r"(?<!c)h"), ""), (re.compile(r"w"), "u"),
    (re.compile(r"([a-z])\1"), r"\1"),
)  # fmt: skip


def sound(word: str) -> str:
    """How a Spanish word sounds, near enough: "yamen" and "llamen" sound alike."""
    for pattern, replacement in _SOUNDS:
        word = pattern.sub(replacement, word)
    return word


SPANISH_STEMS_FILE = Path(__file__).with_name("spanish_stems.txt.gz")
_STEMMER = snowballstemmer.stemmer("spanish")


@lru_cache(maxsize=1)
def spanish_stems() -> frozenset[str]:
    """The Snowball stems of Debian's Spanish word list, folded (scripts/spanish-stems)."""
    with gzip.open(SPANISH_STEMS_FILE, "rt", encoding="ascii") as fh:
        return frozenset(fh.read().split())


def is_spanish(word: str, stems: frozenset[str]) -> bool:
    """A real Spanish word, near enough: its stem is the stem of a word of the list
    ("llegando" of "llegar"), or it is a first-person past of one ("perdi": "perder")."""
    if _STEMMER.stemWord(word) in stems:
        return True
    return word.endswith("i") and any(
        _STEMMER.stemWord(word[:-1] + ending) in stems for ending in ("er", "ir")
    )


class Mender:
    """Mends typos against a vocabulary. A word not in it nor starting with one of the
    stems, MIN_FUZZY_LEN letters or longer, becomes the vocabulary word that sounds
    the same ("kiero" -> "quiero"); else, when it is no Spanish word of its own
    (`spanish`, the stems of a Spanish word list: "gente" is not a typo of "agente"),
    five letters or longer, the written word one edit away (two from eight letters;
    rapidfuzz's Levenshtein distance) of about the same length; else it stays."""

    def __init__(
        self,
        vocabulary: Iterable[str],
        stems: Iterable[str] = (),
        spanish: frozenset[str] = frozenset(),
    ) -> None:
        self._spanish = spanish
        self.vocabulary = frozenset(vocabulary) | COMMON_WORDS
        # A word that starts with a stem the rules read ("desuscrib" + anything) is
        # already what they look for: mending it could only make it another word.
        self._stems = tuple(sorted({s for s in stems if len(s) >= MIN_FUZZY_LEN}))
        by_sound: dict[str, str] = {}
        for word in sorted(self.vocabulary, key=lambda w: (w not in COMMON_WORDS, w)):
            if len(word) >= MIN_FUZZY_LEN:
                by_sound.setdefault(sound(word), word)
        self._by_sound = by_sound
        self._words = sorted(w for w in self.vocabulary if len(w) >= MIN_FUZZY_LEN)
        self.mend = lru_cache(maxsize=8192)(self._mend)

    def _mend(self, word: str) -> str:
        if len(word) < MIN_FUZZY_LEN or word in self.vocabulary or not word.isalpha():
            return word
        if word.startswith(self._stems):
            return word
        heard = sound(word)
        if heard in self._by_sound:
            return self._by_sound[heard]
        if len(word) <= MIN_FUZZY_LEN:
            return word  # four letters: only a word that sounds the same
        if is_spanish(word, self._spanish):
            return word
        edits = 1 if len(word) <= 7 else 2
        found = process.extractOne(
            word, self._words, scorer=Levenshtein.distance, score_cutoff=edits
        )
        # A typo keeps the word's length near; a longer or shorter word is another word
        # ("saco" is not "sacado", "debiendo" not "debido").
        if found is None or abs(len(found[0]) - len(word)) > 1:
            return word
        return str(found[0])

    def text(self, text: str) -> str:
        """The normalised text: mended words joined by single spaces."""
        return " ".join(self.mend(word) for word in tokens(text))
