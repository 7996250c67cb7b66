"""What a debtor's message asks for, in Spanish as debtors write it (MX, CO, PE; no
accents, typos, shorthand): one of INTENTS with a confidence, the channel a `stop`
names and the kind of a `dispute`.

Rules over the normalised text (selfservice/normalize.py), not a model: each rule
is a pattern with a weight. Safety first: a message that matches a `stop` or a
`dispute` rule is that intent whatever else it says (both are legal duties, never
answered with a payment push); otherwise the heaviest rule wins, ties going to the
more specific intent. Nothing matched: the nearest canonical phrase by rapidfuzz,
else `unknown`. Pure, bounded work on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import fuzz, process

from selfservice.intent_model import Model, shipped
from selfservice.normalize import Mender, spanish_stems, words
from selfservice.parties import DECEASED, RELATIVE, party

INTENTS = (
    "balance",
    "due_date",
    "installments",
    "pay",
    "promise",
    "agent",
    "dispute",
    "stop",
    "greeting",
    "unknown",
)
STOP_CHANNELS = ("sms", "whatsapp", "email", "call")  # store.models.ContactChannel values
DISPUTE_KINDS = ("denies", "paid", "proof")

# Ties between rules of equal weight go to the earlier intent: the more specific ask.
PRIORITY = ("stop", "dispute", "agent", "installments", "promise", "pay", "due_date",
            "balance", "greeting")  # fmt: skip
_PRIORITY_INDEX = {name: index for index, name in enumerate(PRIORITY)}
SAFETY = ("stop", "dispute")
THRESHOLD = 0.5  # below it, no rule really matched
# The statistical model (selfservice/intent_model.py): from this probability of stop or
# dispute a message is read as one (chosen by cross-validation by split, leaning to
# safety), and what it needs to name an intent alone when no rule matched.
SAFETY_PROBABILITY = 0.35
STRONG_RULE_SAFETY_PROBABILITY = 0.5  # ... when a rule of another intent weighs 0.85 or more
MODEL_ALONE = 0.5
FALLBACK_CUTOFF = 85.0  # rapidfuzz score (0-100) a canonical phrase must reach


@dataclass(frozen=True)
class Intent:
    name: str  # one of INTENTS
    confidence: float  # 0..1
    # stop: which channel ("sms", "whatsapp", "email", "call"); None = every channel.
    channel: str | None = None
    # dispute: "denies" (not mine, wrong person, wrong amount), "paid", "proof" (documents).
    # agent: "callback" when the debtor asks to be called.
    kind: str | None = None
    # Who wrote, whatever the intent (selfservice/parties.py): "third_party" (a wrong
    # number, a relative answering), "deceased" (news of the debtor's death), or None.
    party: str | None = None


@dataclass(frozen=True)
class Rule:
    intent: str
    weight: float
    pattern: re.Pattern[str]
    kind: str | None = None


def _r(intent: str, weight: float, pattern: str, kind: str | None = None) -> Rule:
    return Rule(intent, weight, re.compile(pattern), kind)


GAP = r"(?:\w+ ){0,3}"
# Verbs of contacting someone, any form: "llamen", "marcarme", "escribiendo", "hablen".
CONTACT = (r"(?:llam|marc|marqu|escrib|mand|envi|contact|molest|busc|busqu|timbr|acos|hostig|"
           r"fastidi|jod|freg|fregu|insist|ching|jorob|perturb)\w*|habl(?:en|es|e|ar|arme|arnos|ando)")  # fmt: skip
# The imperative/subjunctive "do not ..." forms: "no me llamen", "no me escribas".
CONTACT_ROOT = (
    r"(?:llam|marc|marqu|escrib|mand|envi|contact|molest|busc|busqu|timbr|acos|"
    r"hostig|fastidi|jod|freg|fregu|insist|ching|jorob|perturb)"
)
# Request forms only: infinitive, imperative/subjunctive, gerund (with clitics); never a
# past tense ("no me llamaron", "no me mando el link" are not requests).
CONTACT_REQUEST = (
    rf"{CONTACT_ROOT}(?:ar|er|ir|en|es|e|an|as|a|ando|iendo)"
    r"(?:me|nos|le|les|la|lo)?"
)
NEGATION = r"(?:no|nunca|jamas|ni)"
# What may stand between the negation and the verb: clitics, modal and aspect words.
FILLER = (
    r"(?:(?:me|nos|le|les|te|lo|la|los|ya|mas|se|vuelvan a|vuelva a|vuelvas a|sigan|siga|anden|ande|"
    r"sigas|esten|este|estes|pueden|puede|deben|debe|tienen que|tiene que|van a|va a|"
    r"volver a|seguir|estar|favor de|por favor) )"
)
CONTACT_IMP = (r"(?:llam|marqu|escrib|mand|envi|contact|molest|busqu|timbr|acos|hostigu|"
               r"fastidi|jod|friegu|insist|habl)(?:en|es|e|an|as|a)(?:me|nos|le|les)?")  # fmt: skip
PAY_VERB = (r"(?:pag|deposit|abon|transfier|transfer|liquid|cubr|cubro|sald|cancel|consign|yape|"
            r"plinee|plineo)\w*|hago (?:la|el) (?:consignacion|yape|plin|transferencia)|"
            r"(?:le|les|te|se la|se lo) (?:mando|envio|paso)|pongo al (?:dia|corriente)|hago (?:el|un) (?:pago|deposito|abono)|"
            r"hago la transferencia|mando (?:el|la) (?:dinero|pago|plata|lana)|"
            r"(?:tengo|tendre|junto|consigo|reuno) (?:el |la |los )?(?:dinero|plata|lana|pago|"
            r"varos)")  # fmt: skip
WEEKDAY = r"(?:lunes|martes|miercoles|jueves|viernes|sabado|domingo)"
MONTH = (r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
         r"noviembre|diciembre)")  # fmt: skip
NUMBER_WORD = (r"(?:\d{1,3}|un|una|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|"
               r"quince|veinte|treinta)")  # fmt: skip
FUTURE = (
    rf"(?:(?:manana|hoy) (?:temprano|en la manana|en la tarde|en la noche|por la manana|por la "
    rf"tarde|por la noche)|manana|pasado manana|(?:el|este|esta|el proximo|el otro|el siguiente) {WEEKDAY}|"
    rf"{WEEKDAY}|(?:la|esta) (?:proxima |otra |siguiente )?(?:semana|quincena)|"
    r"(?:el|este) (?:proximo |otro |siguiente )?mes|fin de (?:mes|semana)|finales de mes|"
    r"(?:la|esta|cada) quincena|principios? de mes|inicios? de mes|"
    rf"el (?:dia )?\d{{1,2}}|el (?:primero|quince|treinta|veinte)|\d{{1,2}} de {MONTH}|"
    rf"(?:en|dentro de) {NUMBER_WORD} (?:dias?|semanas?|meses?)|"
    r"(?:cuando|en cuanto|apenas|tan pronto|tan pronto como) (?:me )?(?:paguen|pagan|cobre|depositen|"
    r"caiga|llegue|reciba|tenga|salga)|"
    r"(?:hoy )?(?:en|por) la (?:tarde|noche)|mas tarde|al rato|ahorita en la tarde|"
    r"(?:al|para el|hasta el) (?:\d{1,2}|primero|quince|treinta)|esta semanita|la otra semanita|"
    r"(?:el|mi) (?:proximo )?(?:pago|sueldo|aguinaldo|quincena)|"
    rf"(?:la|el) otr[ao] (?:semana|quincena|mes)|a fin de mes|este fin|{MONTH})"
)

# A payment told as done: a preterite of the first person (accents folded, "pagué" reads
# "pague"), or a verb of sending with the money as its object ("mandé la transferencia").
PAID_VERB = (
    r"(?:pague|deposite|transferi|abone|consigne|yapee|yapie|plinee|liquide|salde|cubri|"
    r"(?:mande|envie|hice|realice|efectue|deje) (?:\w+ ){0,2}(?:transferencia|deposito|pago|"
    r"dinero|plata|lana|abono|consignacion|giro|yape|plin|efectivo))"
)
# ... or of the third person after who paid: "mi esposo pagó" (no first person there).
PAID_BY = (
    rf"(?:mi|su) {RELATIVE} (?:ya )?(?:me |le |les |lo |la |se lo |se la )?(?:pago|deposito|"
    r"transfirio|abono|consigno|liquido|yapeo|cancelo|(?:mando|envio|hizo|realizo) (?:\w+ ){0,2}"
    r"(?:transferencia|deposito|pago|dinero|plata|lana|abono|consignacion|giro))\b"
)
# A day gone by or today, never one to come ("el proximo lunes", "el lunes que viene").
PAST_DAY = (
    r"(?:ayer|antier|anteayer|anoche|hoy|esta manana|hace (?:\w+ )?(?:dias?|semanas?|mes|meses|"
    rf"rato|ratito|poco)|(?:el )?(?:pasado )?(?<!proximo )(?<!siguiente )(?<!otro )"
    rf"{WEEKDAY}(?! que viene| proximo)(?: pasado)?|el (?:dia )?\d{{1,2}}|el primero|"
    rf"\d{{1,2}} de {MONTH}|(?:la semana|el mes|la quincena) pasad[ao])"
)
# What makes a preterite-looking form (accents folded) a subjunctive, a payment to come:
# "cuando deposite el lunes", "quieren que pague el viernes?" (never a bare "que": "les
# dije que pague el viernes" is as likely "pagué").
_NOT_DONE = (r"(?<!\bcuando )(?<!\bapenas )(?<!\bcuanto )(?<!\bpara que )(?<!\bhasta que )"
             r"(?<!\bquieren que )(?<!\bquiere que )(?<!\bquieres que )(?<!\bantes de que )"
             r"(?<!\bsi no )")  # fmt: skip

# Asking to be called: "me llaman", "llameme", "comunicarse conmigo".
CALL_ME = (r"(?:me )?(?:llaman|marcan|hablan|llamas|marcas|llama|marca|llamarian|marcarian|llame|"
           r"llamen|marque|marquen)|llameme|llamame|llamenme|marqueme|marcame|marquenme|hableme|"
           r"hablame|hablenme|comunicarse conmigo|contactarme|contactenme|contacteme|llamarme|"
           r"marcarme|regresar la llamada|devolver la llamada")  # fmt: skip
# When to call instead: later, a part of a day, an hour, a day.
LATER = (
    rf"(?:al rato|mas tarde|mas tardecito|mas al rato|en un rato|en un ratito|despues|luego|"
    r"otro dia|en (?:una|1|dos|2|media|un par de|unas) horas?|(?:en|por) la (?:tarde|manana|"
    r"noche)|(?:hoy|manana) (?:en la (?:tarde|manana|noche)|temprano)|pasado manana|manana|"
    r"temprano|a las \d{1,2}|tipo \d{1,2}|como a las \d{1,2}|a eso de las|despues de las "
    rf"\d{{1,2}}|(?:el )?fin de semana|(?:el )?{WEEKDAY}|de noche|tonight|later|tomorrow)"
)
# Busy now: the writer of the message asks to be reached another time.
BUSY = (r"no (?:puedo|le puedo|les puedo|podemos|te puedo) (?:hablar|contestar|atender\w*)|no estoy "
        r"disponible|no tengo tiempo|(?:estoy|ando|voy) (?:ocupad\w*|manejando|en (?:una )?(?:junta|"
        r"reunion|clase|clases)|en (?:el|mi) (?:trabajo|chamba|turno)|en la chamba|trabajando)|"
        r"^ocupad\w*|^(?:ahorita|ahora) no\b(?! (?:tengo|hay|me alcanza|cuento))")  # fmt: skip
# Cannot pay as agreed: no work or income, illness, a death, a ruined business.
HARDSHIP = (
    r"no (?:tengo|tenemos|hay|cuento con) (?:\w+ ){0,2}(?:dinero|trabajo|empleo|chamba|ingresos|"
    r"como pagar|con que pagar|de donde|para pagar|para comer|ni para|ni un peso|ni un sol|un peso)|"
    r"(?:me |nos )?(?:quede|quedamos) sin (?:trabajo|empleo|chamba|nada|dinero|ingresos|negocio)|"
    r"sin (?:trabajo|empleo|chamba|ingresos)|desemplead\w*|me (?:corrieron|despidieron|echaron|"
    r"botaron) |(?:estoy|ando|quede|estamos) (?:en la lona|misio|quebrad\w*|en quiebra|corto|"
    r"cort[oa] de dinero|sin un peso|pelad[oa]|apretad[oa]|endeudad[oa])|quebre|quebramos|"
    r"no (?:puedo|podemos|he podido|hemos podido|pude) (?:pagar|trabajar|cubrir)|no (?:me |nos )?"
    r"alcanza|(?:estoy|ando|he estado|estuve|estamos) (?:\w+ )?(?:enferm\w*|hospitalizad\w*|"
    r"incapacitad\w*|grave|internad\w*)|(?:esta|estan) (?:\w+ )?(?:grave|hospitalizad\w*|"
    r"internad\w*)|me (?:operaron|accidente|enferme|incapacitaron)|"
    r"(?:cuando|en cuanto|apenas|tan pronto|tan pronto como) (?:pueda|podamos|se pueda)|"
    r"(?:ahorita|ahora|por ahora|en este momento|de momento) no (?:tengo|tenemos|cuento con)\b(?! tiempo)|"
    r"(?:en cuanto|si|apenas) (?:consiga|encuentre|consigo|encuentro) (?:un )?(?:trabajo|chamba|"
    r"empleo)|(?:dont|do not) have (?:the |any )?money|broke|"
    r"tengo (?:cancer|una enfermedad|\w+ enfermedad)|(?:fallecio|murio|se murio|falleci\w+) |"
    r"el negocio (?:no|esta|anda|va|quebro)|situacion (?:esta |economica )?(?:\w+ )?(?:dificil|"
    r"durisima|dura|complicada|critica)|cuando (?:consiga|encuentre|tenga) (?:trabajo|chamba|"
    r"empleo)|lost my job|(?:cant|can not|cannot|unable to) pay|no money|unemployed|laid off"
)

# Before "me llaman": a call refused ("no me llaman"), or a question about who calls.
_ASKED_CALL = (r"(?<!\bno )(?<!\bdonde )(?<!\bquien )(?<!\bquienes )(?<!\bque )"
               r"(?<!\bpor que )(?<!\bporque )")  # fmt: skip

# Moving the payment date is a negotiation, not a question about the date.
CHANGE_DATE = (r"\b(?:cambiar|mover|correr|recorrer|pasar|cambiarme|recorrerme|moverme) (?:\w+ ){0,2}"
               r"(?:fecha|dia) de (?:pago|corte)\b")  # fmt: skip
_CHANGE_DATE = re.compile(CHANGE_DATE)

# fmt: off
RULES: tuple[Rule, ...] = (
    # ---- stop: any request to stop contact, on a channel or all --------------------
    _r("stop", 0.95, rf"\b(?:ya )?no (?:me |nos |le |les |te )?(?:vuelvan a |vuelva a |vuelvas a |"
       rf"sigan |siga |sigas |esten |estes )(?:{CONTACT})"),
    _r("stop", 0.95, rf"\b(?:ya )?no (?:me |nos |le |les |te |lo |la )?(?:{CONTACT_IMP})\b"),
    _r("stop", 0.9, rf"\b{NEGATION} {FILLER}{{0,4}}{CONTACT_REQUEST}\b"),
    _r("stop", 0.9, r"\bno (?:me |nos )?(?:llegue|lleguen|entre|entren|aparezca) (?:nada|mas|ningun|"
       r"ninguna|sus|otro|otra)\b"),
    _r("stop", 0.95, rf"\b(?:dejen|deje|deja|dejar|dejes|paren|pare|para|parar|parale|basta) "
       rf"(?:ya )?de (?:estar |seguir )?(?:{CONTACT})"),
    _r("stop", 0.85, r"^(?:por favor )?no (?:mas )?(?:contacto|llamadas|mensajes|correos|whatsapp|"
       r"sms|textos)\b"),
    _r("stop", 0.9, rf"\bno (?:quiero|deseo|queremos|acepto|necesito) (?:volver a |seguir )?(?:que (?:me |nos )?"
       rf"(?:sigan |vuelvan a |esten |anden )?(?:{CONTACT})|recibir|ser contactad|mas (?:llamadas|"
       r"mensajes|correos|whatsapp|sms|textos|notificaciones)|(?:sus |ningun |ninguna |"
       r"ningunas )(?:llamadas?|mensajes?|correos?|whatsapp|sms|textos?))"),
    _r("stop", 0.9, r"\bno mas (?:llamadas|mensajes|correos|whatsapp|sms|textos|mensajitos|"
       r"molestias|notificaciones|acoso)\b"),
    _r("stop", 0.99, r"^(?:ya )?(?:para|pare|paren|parale|parenle) ya(?: por favor)?$|"
       r"^(?:baja|stop|alto|parar|cancelar|cancela|no mas|no molestar|"
       r"darme de baja|dar de baja|unsubscribe|detener|fin|basta|ya basta)(?: por favor)?$"),
    _r("stop", 0.95, r"\b(?:de baja|dar baja|darme baja|la baja|desuscrib\w*|desinscrib\w*|"
       r"unsubscribe|unsub|stop)\b"),
    _r("stop", 0.9, r"^baja\b|\bbaja$"),
    _r("stop", 0.9, r"\b(?!\w*(?:aron|ieron)\b)(?:borr|elimin|quit|saqu|sac|retir|baj|supr)\w* (?:\w+ ){0,3}(?:numero|datos|info|informacion|sistema|"
       r"telefono|celular|correo|lista|base|registro|contacto)s?\b"),
    _r("stop", 0.9, r"\b(?:no autorizo|no les autorizo|desautorizo|revoco|retiro (?:mi|el) "
       r"(?:consentimiento|permiso|autorizacion))\b"),
    _r("stop", 0.85, r"\bno (?:\w+ ){0,2}(?:permiso|autorizacion|consentimiento)\b"),
    _r("stop", 0.85, r"\b(?:acoso|acosando|acosar|acosarme|hostigamiento|hostigando|hostigar|"
       r"hostigarme)\b"),
    _r("stop", 0.85, r"\b(?:ya basta|basta ya|basta de)\b"),
    _r("stop", 0.9, r"\b(?:apaguen|paren|detengan|suspendan|cancelen|cancela|cancelar|quiten|cesen|"
       r"cese|cesar|terminen|finalicen|corten|eviten)"
       r" (?:\w+ ){0,2}(?:llamadas|mensajes|correos|notificaciones|whatsapp|sms|textos|"
       r"recordatorios|suscripcion|contacto|contactos|comunicacion|comunicaciones|cobranza|"
       r"gestiones|hostigamiento|acoso)\b"),
    _r("stop", 0.9, r"\bsi (?:me |nos |le )?(?:siguen|vuelven a|continuan|sigue|vuelve a) "
       rf"(?:{CONTACT})"),
    _r("stop", 0.9, r"\b(?:ya paren|paren ya|parenle|ya parale|paren de una vez|ya no mas)\b"),
    # Blocking them is not wanting their contact: "los voy a bloquear", "ya te bloquee".
    _r("stop", 0.85, r"\b(?:los|las|les|te|a ustedes) (?:voy a |vamos a |ya |tengo que )?bloque\w*|"
       r"\b(?:voy a|vamos a|tendre que) bloquear (?:este|el|su|sus) (?:numero|contacto|numeros)\b|"
       r"\b(?:ill|i will|im going to|gonna) block (?:you|this number)\b"),
    _r("stop", 0.9, r"\bno (?:me |nos )?(?:interesa|interesan) (?:\w+ ){0,2}(?:llamadas|mensajes"
       r"|correos|whatsapp|sms|textos)\b"),
    _r("stop", 0.9, r"\bno (?:quiero|queremos|deseo) saber (?:nada|mas) (?:\w+ ){0,5}de (?:ustedes|uds|"
       r"su empresa|esta empresa|la empresa|su banco)\b"),
    # Partial stops: visits, or every channel but one kept ("solo por correo").
    _r("stop", 0.9, r"\bno (?:me |nos )?(?:visiten|visite|visites)\b|\bno (?:me |nos )?(?:vengan|venga|"
       r"vayan|vaya|presenten|aparezcan|aparezca) (?:a |hasta )(?:mi|la|el|su|nuestra) (?:casa|"
       r"trabajo|domicilio|oficina|negocio|jato|chamba|depa|departamento|colonia|barrio)\b|\bno "
       r"(?:quiero|queremos|acepto) (?:mas )?(?:visitas?|que (?:me )?(?:vengan|vayan|visiten|"
       r"presenten|aparezcan))\b|\bdejen de (?:venir|visitar\w*|ir a mi)\b|\bni se (?:le|te|les) "
       r"ocurra (?:venir|ir)\b"),
    _r("stop", 0.85, r"\b(?:contactenme|contacteme|escribanme|escribame|comuniquense|comuniquese|"
       r"mandenme|envienme|busquenme|llamenme|llameme) (?:\w+ )?(?:solo|solamente|unicamente) "
       r"(?:por|al|a mi|via)\b|\b(?:solo|solamente|unicamente) (?:contactenme|contacteme|"
       r"escribanme|escribame|comuniquense|comuniquese|llamenme|llameme|mandenme|envienme) "
       r"(?:\w+ )?(?:por|al|a mi|via)\b|^(?:(?:de ahora en adelante|por favor|mejor|ya) )?"
       r"(?:solo|solamente|unicamente) (?:por|al|a mi|via) (?:el |mi )?(?:correo(?: electronico)?|"
       r"whatsapp|sms|mensajes?(?: de texto)?|carta|escrito|llamadas?|telefono)(?: (?:por favor|"
       r"gracias))?$|\b(?:only|just) (?:contact|text|email|call|write) (?:me|us) (?:by|via|at|on|"
       r"through)\b|\b(?:email|text|mail) only\b|\bonly (?:by|via|through) (?:email|mail|text|"
       r"letter)\b"),
    _r("stop", 0.9, r"\bno (?:quiero|queremos|deseo) (?:volver a )?(?:hablar|tratar|saber|tener "
       r"(?:nada|contacto|trato)) (?:nada )?(?:con|de) (?:ustedes|uds|su empresa|esta empresa)\b"),
    _r("stop", 0.9, r"\b(?:olvidense|olvidate|olvideme|olvidenme|olvidese|se olviden|te olvides|se "
       r"olvide) de (?:mi|nosotros)\b|"
       r"\bpierdan (?:mi|este) (?:numero|telefono|contacto)\b|\bno (?:los|las|te|lo|la) quiero "
       r"(?:volver a |ni )?(?:oir|ver|escuchar)\b|\b(?:dejen|deje|dejes|dejar)(?:me|nos)? (?:en paz|"
       r"tranquil[oa]s?)\b|\bme dejen (?:en paz|tranquil[oa]s?)\b"),
    _r("stop", 0.9, r"\b(?:hart[oa]s?|cansad[oa]s?|fastidiad[oa]s?) de (?:\w+ ){0,2}(?:llamadas|"
       r"mensajes|correos|whatsapp|sms|llamadera|mensajitos|que me (?:llamen|escriban|marquen))\b"),
    # English (and Spanglish): the assistant answers in Spanish, but a request to stop
    # or a dispute is a legal duty in any language.
    _r("stop", 0.95, r"\b(?:dont|do not|never|stop|quit|please stop) (?:\w+ ){0,2}(?:call|calling|"
       r"text|texting|txt|message|messaging|email|emailing|contact|contacting|bother|"
       r"bothering|harass|harassing|write|writing|phone|phoning|ring|ringing|whatsapp)\w*\b"),
    _r("stop", 0.9, r"\b(?:no|dejen de|paren de) (?:me |les )?(?:anden |esten |sigan )?(?:pregunt|"
       r"averigu|investig|exhib|balcone|ventil)\w* (?:\w+ ){0,3}(?:por mi|vecin\w*|familia\w*|"
       r"trabajo|referencias|jefe|companeros)\b"),
    _r("stop", 0.9, r"\b(?:leave me alone|opt (?:me )?out|take (?:me|my \w+)(?: \w+)? off|off (?:your|"
       r"the) list|remove (?:me|my (?:number|name|"
       r"info|data|phone|email|contact))|delete my (?:number|data|info)|lose my number|cease (?:all )?"
       r"(?:contact|communication|calls)|no more (?:calls|texts|messages|emails)|(?:dont|do not) "
       r"(?:want|wish) (?:any )?(?:more )?(?:calls|texts|messages|emails|to be (?:contacted|called)|"
       r"you to (?:call|text|contact|message))|if you (?:keep|continue) (?:calling|texting|"
       r"contacting|messaging)|(?:sick|tired) of (?:\w+ ){0,2}(?:calls|texts|messages|calling|"
       r"texting))\b"),
    # ---- dispute: denies the debt, says it is paid, asks for proof ----------------
    _r("dispute", 0.95, r"\bya (?:lo |la |le |les |te |se |los |las )?(?:pague|pagamos|pagado|"
       r"cancele|cancelamos|liquide|liquidamos|salde|saldamos|abone|deposite|transferi|cubri|"
       r"yapee|yapie|plinee|consigne|consignamos|depositamos|transferimos|"
       r"hice (?:el|mi|un|la) (?:pago|deposito|transferencia)|realice (?:el|mi) pago)\b"
       r"(?! (?:la mitad|una parte|parte|un abono|una cuota|la primera|algo|un poco|"
       r"(?:\d+|dos|tres|cuatro|cinco|seis|unas|algunas|varias) (?:cuotas|pagos|abonos|"
       r"mensualidades|meses)|lo que "
       r"(?:pude|podia|alcance|tenia)))",
       "paid"),
    _r("dispute", 0.85, r"\bya (?:lo |la |le |les |se )?pago\b(?! (?:el|la|manana|hoy|ahorita|"
       r"en|cuando|este|esta|lo|todo))", "paid"),
    _r("dispute", 0.9, r"\bpagamos (?:\w+ ){0,4}(?:ayer|antier|anteayer|hace|pasad[oa]|desde)\b",
       "paid"),
    _r("dispute", 0.9, rf"\b(?:yo |si )?{_NOT_DONE}(?:pague|liquide|salde|cancele|deposite|transferi|yapee|"
       rf"yapie|plinee|consigne) (?:\w+ ){{0,4}}(?:ayer|antier|anteayer|hace|pasad[oa]|desde|en {MONTH}|"
       rf"el {WEEKDAY}|el \d{{1,2}}|a tiempo|completo|todo|toda|todas|todos|puntual)\b", "paid"),
    # A past payment with its day, in either order, is a claim of payment, never a promise
    # ("mandé la transferencia el lunes", "el martes le transferí", "deposité el 3").
    _r("dispute", 0.9, rf"\b{_NOT_DONE}(?:{PAID_VERB}) (?:\w+ ){{0,4}}{PAST_DAY}\b|\b{PAST_DAY} "
       rf"(?:\w+ ){{0,3}}{_NOT_DONE}(?:{PAID_VERB})\b", "paid"),
    _r("dispute", 0.9, rf"\b{PAID_BY}", "paid"),
    # A bare participle: "pagado", "ya liquidado" (never "cancelado": also "cancel it").
    _r("dispute", 0.9, r"^(?:ya )?(?:pagad[oa]|liquidad[oa]|saldad[oa])(?: (?:ya|todo|completo))?$",
       "paid"),
    _r("dispute", 0.85, r"\b(?:certificado|certificacion|constancia|carta) (?:de )?(?:deuda cero|no "
       r"adeudo|paz y salvo|finiquito|saldo cero)\b|\bestoy al (?:dia|corriente) (?:con|en) (?:todo|mis "
       r"pagos|ustedes|la deuda)\b", "paid"),
    _r("dispute", 0.9, r"\b(?:hice|realice|hicimos|efectue) (?:el|la|un|una|mi|los|las|mis) "
       r"(?:pago|pagos|deposito|depositos|transferencia|transferencias|abono|consignacion|"
       r"consignaciones|yape|plin)\b", "paid"),
    _r("dispute", 0.9, r"\b(?:esta|estaba|quedo|quedaba|ya queda|fue|ya esta|ya quedo|ya fue) (?:\w+ )?"
       r"(?:pagad[oa]s?|liquidad[oa]s?|saldad[oa]s?|cancelad[oa]s?|cubiert[oa]s?)\b", "paid"),
    _r("dispute", 0.9, r"\b(?:tengo|mando|envio|adjunto|aqui esta|ahi va|les paso|le paso|te paso"
       r"|guarde|conservo|anexo) (?:\w+ ){0,3}(?:comprobante|voucher|baucher|recibo|ticket|"
       r"constancia|captura|pantallazo)s?\b", "paid"),
    _r("dispute", 0.9, r"\b(?:no se (?:ha |me )?(?:reflej|aplic|registr|acredit)\w*|no aparece "
       r"(?:mi|el) pago|mi pago no|no (?:me )?(?:han )?(?:aplicado|registrado|abonado|"
       r"acreditado|reflejado) (?:mi|el) pago|se (?:reflejo|aplico|registro) (?:mi|el) pago)",
       "paid"),
    _r("dispute", 0.85, r"\b(?:siguen|seguir|sigan|siguen y siguen) cobrando\b|\bme cobraron "
       r"(?:dos veces|doble|de mas|demas)\b|\bpor que me (?:siguen )?cobr\w*|\bcobro doble\b",
       "paid"),
    _r("dispute", 0.9, r"\bya (?:no (?:debo|les debo|le debo|tengo deuda)|estoy al (?:corriente|"
       r"dia)|termine de pagar|acabe de pagar|la termine|lo termine|quede al corriente)\b",
       "paid"),
    _r("dispute", 0.85, r"\b(?:paz y salvo|no adeudo|libre de deuda|finiquito)\b", "paid"),
    _r("dispute", 0.85, r"\b(?:la |lo |esa |esta )?(?:cerre|cancele|liquide) (?:\w+ ){0,2}(?:hace|en \d|"
       r"desde|el ano|ya)\b|\b(?:cuenta|credito|tarjeta|prestamo) (?:ya )?(?:esta |estaba |quedo )?"
       r"(?:cerrad[oa]|cancelad[oa]|liquidad[oa]|finiquitad[oa])\b", "paid"),
    _r("dispute", 0.85, r"\bno (?:me |les |le )?(?:cuadra|cuadran|cuadran las cuentas)\b", "denies"),
    _r("dispute", 0.85, r"\b(?:es|era|son|eran) de (?:otra persona|otro|mi ex\w*|ex \w+|mi "
       r"(?:hermano|hermana|hijo|hija|papa|mama|padre|madre|esposo|esposa|pareja|expareja|"
       r"exesposo|exesposa|suegro|suegra|primo|prima|cunado|cunada))\b", "denies"),
    _r("dispute", 0.9, r"\bno (?:lo |la |los |las |le )?(?:he )?(?:saque|sacado|pedi|pedido|solicite|"
       r"solicitado|firme|firmado|contrate|contratado|tramite|tramitado|adquiri|autorice|"
       r"autorizado) (?:yo|nada|nunca|ningun\w*|eso|esa|ese|tal)\b", "denies"),
    _r("dispute", 0.95, r"\bno (?:es|era|son|eran) (?:mia|mio|mias|mios|de mi|(?:mi|mis) "
       r"(?:deuda|deudas|cuenta|credito|prestamo|tarjeta|numero|nombre|problema)|para mi)\b",
       "denies"),
    _r("dispute", 0.95, r"\bno (?:la |lo |les |le )?(?:reconozco|reconocemos|acepto (?:esa|esta|"
       r"la|ese|este) (?:deuda|cobro|cargo|monto))\b", "denies"),
    _r("dispute", 0.9, r"\b(?:yo )?no (?:la |lo |les |le |te )?debo\b(?! pagar)", "denies"),
    _r("dispute", 0.9, r"\b(?:sac|pid|tramit|us|abri|solicit|hic|contrat)\w* (?:\w+ ){0,3}(?:a|con|en)"
       r" mi nombre\b", "denies"),
    _r("dispute", 0.9, r"\b(?:nunca|jamas) (?:lo |la |los |las |le |les )?(?:he )?(?:debido|saque|sacado|pedi|pedido|solicite|"
       r"solicitado|tuve|tenido|firme|firmado|contrate|contratado|use|usado|tramite|tramitado|"
       r"adquiri|recibi|abri)\b", "denies"),
    _r("dispute", 0.95, r"\byo no (?:saque|pedi|solicite|firme|contrate|tramite|adquiri|recibi|"
       r"abri|autorice|use|tengo (?:ningun|ninguna|nada|deuda|deudas))\b", "denies"),
    _r("dispute", 0.85, r"\bno tengo (?:ningun|ninguna|ningunas|ningunos) (?:deuda|credito|"
       r"prestamo|tarjeta|cuenta|contrato)s?\b|\bno tengo (?:deudas?|creditos?|prestamos?|cuentas?|"
       r"tarjetas?) (?:\w+ )?con\b",
       "denies"),
    _r("dispute", 0.95, r"\b(?:fraude|estaf\w*|robo de identidad|suplant\w*|usurp\w*|clonaron|"
       r"me robaron (?:la|mi|los|mis) (?:identidad|tarjeta|cartera|datos|documentos)|usaron mis "
       r"datos|robaron mis datos)\b", "denies"),
    _r("dispute", 0.9, r"\b(?:numero equivocado|se equivocaron|equivocad[oa]s? de (?:persona|"
       r"numero)|esta equivocad[oa]|no soy (?:yo|esa persona|el|ella|la persona|quien buscan|"
       r"el titular|la titular)|no conozco a (?:esa|ese|esta|este|la|el|ningun|ninguna|nadie)|"
       r"aqui no vive|no vive aqui|ya no vive|no es (?:aqui|este numero)|no se quien es)\b|"
       r"^equivocad[oa]s?$", "denies"),
    _r("dispute", 0.9, r"\bprescri\w*", "denies"),
    _r("dispute", 0.9, r"\b(?:cargos?|compras?|consumos?|movimientos?|transacciones) (?:\w+ ){0,3}no "
       r"(?:los |las |lo |la )?(?:hice|realice|autorice|reconozco)\b|\bno (?:hice|realice|autorice|"
       r"reconozco) (?:\w+ ){0,2}(?:cargos?|compras?|consumos?|movimientos?|transacciones)\b",
       "denies"),
    _r("dispute", 0.9, r"\bno (?:me |nos |le )?(?:corresponde|pertenece)\b", "denies"),
    _r("dispute", 0.85, r"\b(?:es|debe ser|debe de ser|debe haber|hay|tienen|es por) (?:un |algun )?"
       r"(?:error|equivocacion)\b", "denies"),
    _r("dispute", 0.85, r"\b(?:el|la|los|las|ese|esa|este|esta|esos|esas) (?:monto|cantidad|saldo|"
       r"cifra|cobro|intereses|interes|cargos?|deuda|valor|cuenta) (?:\w+ ){0,3}(?:esta mal|estan mal|no es correct\w*|no cuadra|no "
       r"coincide|es incorrect\w*|esta inflad\w*|es abusiv\w*|son abusiv\w*|excesiv\w*|no es "
       r"(?:real|asi|justo)|no es$|no es (?:yo|asi|ese|esa|correcto)|no corresponde|es ilegal|"
       r"es un robo)\b", "denies"),
    _r("dispute", 0.85, r"\b(?:me estan cobrando|cobrando|cobran|me cobran) (?:de mas|demas|mas de"
       r" lo|intereses (?:abusivos|de mas))|\bno estoy de acuerdo\b|\bcobros? (?:indebid|injust|"
       r"excesiv)\w*|\bintereses (?:abusivos|excesivos|ilegales)\b|\bdebia (?:menos|solo)\b|"
       r"\bno (?:es|era|debo) (?:tanto|esa cantidad|ese monto)\b", "denies"),
    _r("dispute", 0.9, r"\b(?:quiero|necesito|solicito|pido|exijo|mandenme|envienme|manden|envien"
       r"|mandame|enviame|mandeme|envieme|pasame|paseme|muestreme|pasenme|muestrenme|muestren|"
       r"ensenenme|tienen|me (?:pueden|puede|podrian)"
       r" (?:mandar|enviar|pasar|mostrar|facilitar|regalar)|puedo ver|quisiera ver|quiero ver|"
       r"requiero|quisiera|solicitar|me envia|me envian|me manda|me mandan|regaleme|regalame|regalenme|me regala|me regalan|"
       r"facilitenme|me facilitan|exhiban|presenten) "
       r"(?:\w+ ){0,4}(?:documento|documentos|documentacion|soporte|soportes|prueba|pruebas|contrato|"
       r"contratos|titulo valor|cronograma|historial de pagos|certificacion|certificado|desglose|"
       r"movimientos|"
       r"pagare|pagares|evidencia|evidencias|copia|respaldo|sustento|papeles|firma|origen)\b",
       "proof"),
    _r("dispute", 0.9, r"\b(?:demuestren\w*|comprueben\w*|prueben\w*|pruebenme|justifiquen\w*|"
       r"con que (?:pruebas|documentos))\b", "proof"),
    _r("dispute", 0.85, r"\b(?:deuda|cobro|cargo|monto|saldo|adeudo|cantidad) de (?:donde|que) "
       r"(?:sale|salio|viene)\b", "proof"),
    _r("dispute", 0.85, r"\bde (?:donde|que) (?:es|sale|salio|viene|son|sacaron|saca) "
       r"(?:esa |esta |la |ese |este |el |tal )?(?:deuda|cobro|cargo|cuenta|monto|saldo|adeudo)",
       "proof"),
    _r("dispute", 0.85, r"\b(?:donde (?:firme|esta mi firma)|(?<!lo )que (?:firme|contrato firme))\b",
       "proof"),
    # The amount denied: "debo 800 no 2400", "solo me depositaron 600, no voy a pagar 1000",
    # "no son las que acordamos".
    _r("dispute", 0.85, r"\b(?:debo|debia|pedi|saque|me prestaron|me dieron|me depositaron|me "
       r"aprobaron) (?:solo |nomas )?(?:\w+ ){0,2}\d+ (?:\w+ ){0,3}(?:no \d+|y (?:ahora )?me (?:piden|"
       r"cobran|quieren cobrar)|y solo)\b|\bsolo me (?:depositaron|dieron|prestaron|llego|llegaron) "
       r"\d+|\bno voy a pagar (?:eso|esa|ese|\d+|lo que)\b|\bno (?:es|son) (?:\w+ )?(?:lo|la|las|los) "
       r"que (?:acordamos|quedamos|pactamos|firme|me dijeron)\b", "denies"),
    _r("dispute", 0.9, r"\b(?:el|mi) (?:pago|deposito|abono|transferencia) (?:ya )?(?:se hizo|se "
       r"realizo|se efectuo|se mando|fue hecho|quedo hecho)\b|\b(?:termine|acabe|terminamos) de "
       r"pagar(?:la|lo)?\b|\b(?:la|lo) (?:cerre|liquide|salde)\b|\b(?:cuenta|saldo|deuda) "
       r"(?:esta |quedo )?en ceros?\b|\b(?:account|card|loan|debt) (?:was |is |got )?(?:closed|paid "
       r"off|settled)\b", "paid"),
    _r("dispute", 0.85, r"\bme (?:salen|sale|vienen|viene) con (?:que )?(?:debo|les debo|le debo|"
       r"todavia debo|aun debo)\b", "denies"),
    # English
    _r("dispute", 0.9, r"\b(?:se|te|me) equivoc\w* de (?:persona|numero)\b|\bequivocaste\b|\b(?:este|"
       r"ese) numero no es (?:de|del)\b|\bno se de que (?:me )?(?:hablan|habla|trata|deuda)\b|"
       r"\bwrong$|\bwrong (?:num\w*|no)\b|\bbelongs to (?:someone|somebody|another)\b|"
       r"\b(?:someone|somebody) elses\b|^(?:never|didnt|did not) (?:\w+ )?(?:took|taken|borrowed|"
       r"opened|signed|applied|had|requested|owed)\b|\btoo old\b|\bstatute of limitations?\b|"
       r"\btime barred\b", "denies"),
    _r("dispute", 0.9, r"\b(?:thats|that is|this is|its|it is) not me\b|\b(?:im|i am) not (?:\w+ )?"
       r"(?:the person|him|her|that person)\b", "denies"),
    _r("dispute", 0.95, r"\b(?:not|isnt|is not|aint) (?:my|mine)\b(?! (?:turn|fault))|\bwrong "
       r"(?:person|number|guy|girl|name|account)\b|\bi (?:dont|do not) know (?:this|that|who|him|"
       r"her|them|any|anything about)\b|\b(?:i|we) (?:never|didnt|did not|have never|havent) "
       r"(?:\w+ )?(?:took|take|taken|borrow|borrowed|open|opened|sign|signed|apply|applied|had|"
       r"request|requested|got|get|received|receive|authorized|authorize|owe|owed)\b|\b(?:i|we) "
       r"(?:dont|do not) owe\b|\bidentity theft\b|\b(?:scam|scams|scammers|scammer|fraud|"
       r"fraudulent)\b", "denies"),
    _r("dispute", 0.9, r"\b(?:i|we) (?:already |have already |already have |have |just )?(?:made|"
       r"sent|did|completed|submitted) (?:the|my|a|that|this|our) (?:payment|transfer|deposit)\b"
       r"(?! (?:plan|arrangement|tomorrow|next|on|this))|\bpayment (?:was|has been|is) "
       r"(?:made|sent|done|completed)\b", "paid"),
    _r("dispute", 0.95, r"\b(?:i|we) (?:already |have already |already have |have |just )?paid\b"
       r"(?! (?:half|part|some|a part|on|next))|\bpaid (?:it |this |that |the debt |the loan |"
       r"everything |all )?(?:off|in full)\b", "paid"),
    _r("dispute", 0.9, r"\b(?:send|show|give|mail|provide) (?:me |us )?(?:\w+ ){0,2}(?:proof|"
       r"documents?|documentation|contract|evidence|paperwork|papers|signature)\b|\bprove "
       r"(?:it|that|this|i owe)\b|\bvalidat\w* (?:the |this |my |of )?debt\b|\bdebt validation\b",
       "proof"),
    # ---- agent: a human, or a call back --------------------------------------------
    _r("agent", 0.95, r"\b(?:hablar|comunicarme|comunicar|platicar|conversar|charlar|hablarle|"
       r"atenderme|atienda|atiendan|atiende|tratar) (?:\w+ ){0,2}(?:con )?(?:un |una |alguien|"
       r"algun |alguna |el |la |su |otro |otra )?(?:asesor|asesora|asesores|persona|humano|"
       r"humana|agente|ejecutiv[oa]|operador[a]?|supervisor[a]?|gerente|encargad[oa]|gestor[a]?|"
       r"representante|alguien|ser humano|jefe|licenciad[oa]|funcionari[oa]|empleado|empleada)"),
    _r("agent", 0.95, r"\b(?:pasame|paseme|pasenme|comuniqueme|comunicame|comuniquenme|conecteme|"
       r"conectame|transfiereme|transfierame|me pasa|me pasan|me comunica|me comunican|me "
       r"transfiere|me conecta|quiero|necesito|solicito|deseo|busco|hay|tienen) (?:\w+ ){0,2}"
       r"(?:asesor|asesora|asesoria|humano|agente|ejecutiv[oa]|operador[a]?|supervisor[a]?|persona real|"
       r"persona de verdad|ser humano|gestor[a]?|representante|alguien real|una persona|"
       r"funcionari[oa])\b"),
    _r("agent", 0.9, r"\b(?:me comunica|me comunican|comuniqueme|comunicame|comuniquenme|"
       r"me pasa|me pasan|pasame|paseme|pasenme|me transfiere|transfiereme|me conecta|"
       r"conecteme|me comunicas|me pasas|pongame|ponme|poneme|me pone|me ponen) (?:con|a (?:un|una|el|la|alguien|algun|alguna))\b"),
    _r("agent", 0.9, r"\balguien (?:con quien|que me) (?:\w+ ){0,2}(?:hablar|atienda|ayude|pueda|"
       r"explique)\b|\balguien (?:que )?me (?:explique|ayude|atienda|oriente)\b"),
    _r("agent", 0.9, r"\bcon quien (?:\w+ )?(?:puedo|podria|debo|tengo que) (?:hablar|comunicarme|"
       r"tratar|ver)\b"),
    _r("agent", 0.85, r"\batencion (?:personal\w*|humana|de una persona)\b|\b(?:me )?(?:puede|"
       r"pueden|podria|podrian) atender(?:me)?\b|\batiend(?:a|an)me\b"),
    _r("agent", 0.85, r"^(?:un |una |el |la )?(?:asesor|asesora|agente|ejecutivo|operador|operadora"
       r"|humano|persona|persona real|supervisor)(?: por favor)?$"),
    _r("agent", 0.6, r"\b(?:asesor|asesora|agente|ejecutivo|ejecutiva|operador|operadora|humano|"
       r"persona real)\b"),
    _r("agent", 0.9, r"\b(?:llamenme|llameme|llamame|marquenme|marqueme|marcame|hablenme|"
       r"me (?:pueden|puede|podrian|podria|pudieran) (?:llamar|marcar|hablar|regresar la "
       r"llamada)|(?:pueden|puede|podrian|podria|pudieran) (?:llamarme|marcarme|hablarme)|"
       r"(?:quiero|necesito|prefiero) que me (?:llamen|llame|marquen|marque|hablen|hable)|"
       r"que me (?:llame|llamen|marquen|marque) (?:un|una|alguien|el|la)|devuelvan la llamada|"
       r"(?:me )?(?:regresan|devuelven|regresas|devuelves|regresa|devuelve) la llamada|"
       r"regresen la llamada|regresenme la llamada)\b", "callback"),
    _r("agent", 0.85, r"\b(?:me )?(?:llaman|marcan|hablan|llamas|marcas|llama|marca|llamarian|"
       r"marcarian) (?:\w+ )?(?:al rato|mas tarde|despues|luego|otro dia|en la tarde|en la "
       r"manana|en la noche|manana)\b", "callback"),
    _r("agent", 0.8, r"\b(?:eres|es|esto es|hablo con|estoy hablando con) (?:un |una )?(?:robot|"
       r"maquina|contestadora|grabadora|computadora|programa)\b"),
    # "Not now": busy, or a time to call instead ("estoy manejando", "ahorita no, mas tarde").
    _r("agent", 0.85, rf"\b(?:{CALL_ME}) (?:\w+ ){{0,3}}{LATER}\b|\b{LATER} (?:\w+ ){{0,2}}(?:me |le )?"
       r"(?:llama|llaman|marca|marcan|llamas|marcas|hablan|llamarian|llame|llamen|marque|marquen)\b",
       "callback"),
    _r("agent", 0.8, rf"\b(?:{BUSY})\b", "callback"),
    # "¿me marcan ustedes?": a call asked for, no call refused.
    _r("agent", 0.85, rf"{_ASKED_CALL}\bme (?:llaman|marcan|hablan|llamas|marcas|hablas|llama|"
       rf"marca|habla) (?:ustedes|usted|uds|ud|tu|por favor|porfa|porfis)\b|{_ASKED_CALL}\bme "
       r"(?:llaman|marcan|hablan|llamas|marcas|hablas)$", "callback"),
    _r("agent", 0.8, rf"^(?:{LATER})(?: (?:por favor|mejor|si|porfa))?$", "callback"),
    # English
    _r("agent", 0.95, r"\b(?:speak|talk|chat) (?:\w+ )?(?:to|with) (?:a |an |the |some |your )?"
       r"(?:person|human|agent|representative|rep|someone|somebody|manager|supervisor|operator|"
       r"real person|live person|advisor)\b|\b(?:real|live) (?:person|human|agent)\b|"
       r"\brepresentative\b"),
    _r("agent", 0.9, r"\b(?:call me|call me back|give me a call|call back)\b", "callback"),
    _r("agent", 0.8, r"\b(?:im|i am) (?:at work|busy|driving|in a meeting|working)\b", "callback"),
    # ---- installments: a plan, parts, a discount ----------------------------------
    _r("installments", 0.9, r"\b(?:en|a|por|de) (?:\w+ ){0,2}(?:cuotas|partes|parcialidades|"
       r"mensualidades|abonos|plazos|pagos chicos|pagitos|pagos mensuales|pagos quincenales|"
       r"pagos semanales)\b"),
    _r("installments", 0.9, rf"\b(?:a|en) {NUMBER_WORD} (?:meses|pagos|cuotas|partes|quincenas)\b|\ba meses\b|"
       r"\bmeses sin intereses\b|\b(?:por|cada) (?:quincenas|semanas|meses)\b"),
    _r("installments", 0.7, r"\bplan\b"),
    _r("installments", 0.9, r"\b(?:la mitad|una parte|parte) (?:\w+ ){0,4}(?:y|y la|y el) (?:otra |"
       r"resto|la otra )?(?:mitad|parte|resto)\b"),
    _r("installments", 0.85, r"\b(?:plan(?:es)? de pagos?|convenio|acuerdo de pago|arreglo|"
       r"financiamiento|financiar|fraccionar|diferir|refinanci\w*|reestructur\w*|facilidades|"
       r"reprogram\w*|renegoci\w*|negociar|negociacion|negociemos|normalizar|cronograma de pagos|"
       r"bajarle|rebajarle|rebajen|"
       r"facilidad de pago|cuota|cuotas|cuotitas|pagitos|abonitos|mensualidad|mensualidades|"
       r"parcialidades|abonos|"
       r"pagos parciales|pago parcial|pagar parcial\w*|poco a "
       r"poco|de a poco|de a poquitos?|poquito a poquito|de a pocos|pagos chiquitos|por partes|en partes|"
       r"a plazos)\b"),
    _r("installments", 0.85, r"\bno (?:puedo|alcanzo a|llego con|me alcanza (?:para)?|tengo (?:para|como|"
       r"el dinero para)|podria|tengo todo|tengo el total|cuento con) (?:\w+ ){0,3}(?:todo|total|"
       r"completo|entero|de una|junto|de contado|de un jalon|de golpe|en una sola|de un solo)\b"),
    _r("installments", 0.85, r"\b(?:descuento|descuentos|rebaja|rebajas|quita|condonacion|"
       r"condon\w*|perdon\w* (?:los |el )?(?:intereses|interes|recargos|moras?)|oferta|ofertas|"
       r"promocion|promociones|liquidar con descuento)\b"),
    _r("installments", 0.9, r"\bcuanto (?:\w+ ){0,3}(?:mensual|al mes|cada mes|por mes|cada "
       r"quincena|por quincena|a la quincena|la cuota|las cuotas|cada cuota|cada pago|"
       r"semanal|quincenal)\b"),
    _r("installments", 0.75, r"\b(?:al mes|por mes|mensual|mensuales|quincenal|quincenales|"
       r"semanal|semanales|cada mes|cada quincena|cada semana|por quincena)\b"),
    _r("installments", 0.75, r"\bpagar (?:lo )?que (?:pueda|vaya pudiendo)\b|\bno me alcanza\b"),
    # Something, not the whole: "a ver si puedo dar algo", "les abono un poco".
    _r("installments", 0.8, r"\b(?:dar|darles|darle|abonar|abonarles|abonarle|pagar|pagarles|"
       r"pagarle|mandar|mandarles|depositar|depositarles|les abono|le abono|les doy|le doy) "
       r"(?:algo|un poco|un poquito|algo de dinero|algo de plata|lo que pueda)\b"),
    # Hardship: cannot pay as agreed (no work, illness, a death, a ruined business). The
    # assistant's answer is the campaign's plans, or a person when it has none.
    _r("installments", 0.84, rf"\b(?:{HARDSHIP})\b"),
    _r("installments", 0.85, r"\b(?:rebajit\w*|descuentit\w*|me (?:lo|la) (?:bajen|baje|rebajen|"
       r"rebaje)|(?:bajar|bajarme|rebajar|reducir|reducirme) (?:\w+ ){0,2}(?:deuda|monto|cuota|"
       r"intereses|saldo|pago))\b|\bsin (?:los )?(?:intereses|recargos)\b|\b(?:quiten|quitan|"
       r"quitar|quitarme|quitenme|congel\w*|perdon\w*) (?:\w+ ){0,2}(?:intereses|interes|"
       r"recargos|moras?)\b|\bsolo el capital\b"),
    # The least they would accept is a negotiation.
    _r("installments", 0.9, r"\b(?:lo )?(?:minimo|menos) (?:que|q) (?:\w+ ){0,2}(?:aceptan|acepten|"
       r"aceptarian|aceptaria|reciben|recibirian|me aceptan|me reciben)\b|\bcon cuanto (?:\w+ )?"
       r"(?:arreglamos|quedamos|cerramos|lo dejamos|me arreglo|quedo a mano|queda saldad\w*)\b|"
       r"\b(?:lowest|least|minimum) (?:\w+ ){0,2}(?:accept|take)\b|\b(?:a|per|each|every) month\b|"
       r"\bmonthly\b"),
    _r("installments", 0.85, r"\bme (?:dan|dejan|pueden dar|podrian dar|darian) por (?:cancelad|"
       r"saldad|pagad|liquidad)\w*|\by (?:quedamos|queda) (?:a mano|saldad\w*|en paz)\b"),
    _r("installments", 0.9, CHANGE_DATE),
    # English
    _r("installments", 0.9, r"\b(?:installments?|instalments?|payment plan|payment arrangement|"
       r"monthly payments|pay (?:in|by) (?:parts|installments|instalments)|discount|settle(?:ment)?"
       r" for|settle for less|lower (?:the|my) (?:payment|amount))\b"),
    # ---- promise: paying on a date -------------------------------------------------
    _r("promise", 0.9, rf"\b(?:{PAY_VERB}) (?:\w+ ){{0,4}}{FUTURE}\b"),
    _r("promise", 0.9, rf"\b{FUTURE} (?:\w+ ){{0,4}}(?:{PAY_VERB})"),
    _r("promise", 0.85, r"\b(?:me comprometo|prometo|promesa de pago|compromiso de pago|"
       r"les prometo|le prometo|sin falta|de seguro (?:pago|le pago|les pago))\b"),
    # English
    _r("promise", 0.9, r"\b(?:ill|i will|i can|im going to|i am going to|gonna|we will|well) "
       r"(?:\w+ ){0,2}(?:pay|send|deposit|transfer)\b(?: \w+){0,5} (?:tomorrow|tonight|today|"
       r"next \w+|on (?:the )?\d{1,2}(?:st|nd|rd|th)?|this (?:week|weekend|month|\w+day)|end of "
       r"(?:the )?month|that day|payday|\w+day)\b|\bi get paid (?:on|next|this|every|in)\b|"
       r"\bi promise\b"),
    # ---- pay: now, how, where ------------------------------------------------------
    _r("pay", 0.85, r"(?<!\bno )\b(?:quiero|quisiera|deseo|necesito|me gustaria|voy a|vengo a|puedo|podria|"
       r"ya quiero|ayudame a|ayudeme a|como (?:puedo|le hago para|hago para|hago pa|le hago pa)|"
       r"queria|intente|trate de|estoy tratando de|estaba tratando de|he intentado|"
       r"se puede|puedo ir a|"
       r"donde (?:puedo)?|por donde|en donde|a donde|me interesa) (?:\w+ ){0,2}(?:pagar|pagarles|"
       r"pagarle|liquidar|saldar|abonar|cancelar|cubrir|depositar|depositarles|transferir|"
       r"ponerme al (?:dia|corriente)|(?:realizar|hacer|efectuar) (?:el|un|mi) (?:pago|abono|"
       r"deposito))\b"),
    _r("pay", 0.85, r"\b(?:a|en) (?:que|cual) (?:cuenta|numero|banco|celular) (?:\w+ ){0,2}"
       r"(?:transfier\w*|deposit\w*|pag\w*|consign\w*|yape\w*|mand\w*|envi\w*)|\bpagar en "
       r"(?:el |la |una |un )?(?:oficina|tienda|sucursal|ventanilla|banco|caja|7 ?eleven|seven|"
       r"oxxo|tambo|corresponsal)\b|\bcanales (?:habilitados|de pago|para pagar)\b"),
    _r("pay", 0.8, r"^(?:pagar|pago|pagarle|pagarles|a pagar)$"),
    _r("pay", 0.8, r"\b(?:datos|informacion|cuenta|numero|instrucciones|banco|medio) (?:\w+ ){0,3}"
       r"para (?:pagar|transferir|depositar|hacer el pago|pagarles|pagarle)\b"),
    _r("pay", 0.8, r"\b(?:link|links|liga|enlace|url|boton)\b|"
       r"\b(?:numero de cuenta|cuenta bancaria|clabe|referencia|cuenta para (?:depositar|"
       r"transferir|pagar)|oxxo|yape|plin|nequi|daviplata|pse|efecty|baloto|bancolombia|bcp|"
       r"interbank|banorte|bbva|scotiabank|spei|mercado pago|mercadopago|paypal|tarjeta de credito|tarjeta de "
       r"debito|con tarjeta|en efectivo|transferencia|deposito|cci|codigo interbancario|yapear|"
       r"consignar|consignacion|corresponsal|convenio de recaudo)\b"),
    _r("pay", 0.85, r"\b(?:como|donde|por donde|en donde|de que forma|que formas?|medios?|"
       r"metodos?|opciones|formas?) (?:\w+ ){0,3}(?:pago|pagar|pagos|deposito|depositar|"
       r"pagarles|pagarle|pagarlo|pagarla|consigno|consignar|consignarles|consignarle|consigna|"
       r"yapeo|yapear|yapearles|yapearle|cancelo|cancelar|transfiero|deposito)\b"),
    _r("pay", 0.85, r"(?<!no tengo para )\b(?:pago|pagar|pagarlo|pagarla|liquido|liquidar|liquidarlo) (?:todo |"
       r"el total |completo )?(?:ya|ahorita|ahora|hoy|ahora mismo|hoy mismo|de una vez|de "
       r"contado|de una|todo|el total|completo)\b"),
    _r("pay", 0.85, r"\ba donde (?:se la |se lo |les |le )?(?:mando|envio|deposito|transfiero)\b"),
    _r("pay", 0.9, r"\b(?:numero|codigo) de convenio\b"),
    # English
    _r("pay", 0.85, r"\b(?:how|where) (?:can|do|could|should) (?:i|we) (?:pay|make (?:a|the) "
       r"payment|send (?:the )?(?:money|payment))\b|\b(?:i want|i would like|id like|i wanna|want)"
       r" to pay\b|\bpayment (?:link|options|methods?)\b|\bpay (?:online|now|today|it now|with "
       r"(?:my )?card|by card)\b|\bcan i (?:use|pay with) (?:my |a )?card\b"),
    # ---- due_date: when --------------------------------------------------------------
    # "cuando consiga chamba les pago" is a condition, not a question about the date.
    _r("due_date", 0.9, r"\b(?:cuando(?! (?:me |les |le )?(?:consiga|tenga|pueda|encuentre|paguen|"
       r"pagan|cobre|depositen|caiga|llegue|reciba|salga|junte|consigo)\b)|que dia|que fecha|hasta cuando|hasta que dia|hasta que "
       r"fecha|para cuando|a mas tardar|para que fecha|para que dia) (?:\w+ ){0,4}(?:vence|"
       r"vencia|vencen|venc\w*|pagar|pago|pagarlo|pagarla|limite|plazo|corte|toca|debo|tengo|"
       r"cancelar|consignar|depositar|abonar)\b"),
    _r("due_date", 0.9, r"\b(?:fecha (?:limite|de pago|de vencimiento|de corte|maxima|para pagar|"
       r"tope)|vencimiento|fecha de mi pago|dia (?:limite|de pago|de corte)|cuando vence|ultimo "
       r"dia|plazo (?:para pagar|maximo|limite)|fecha que (?:tengo|debo))\b"),
    _r("due_date", 0.85, r"\b(?:cuanto tiempo|cuantos dias) (?:\w+ )?(?:tengo|me dan|hay|me "
       r"queda|quedan)\b"),
    _r("due_date", 0.95, r"\b(?:estoy a tiempo|todavia (?:estoy|alcanzo|llego|es tiempo)|ya se "
       r"(?:vencio|paso la fecha)|se me (?:vence|vencio|paso)|(?:tengo|hay) (?:tiempo|plazo) hasta|"
       r"hasta (?:que|cual) hora|a que hora (?:cierra|vence|es el limite)|se vence (?:el|en|cuando)|"
       r"(?<!no )(?:alcanzo|llego) a (?:pagar|tiempo)|en (?:que|cual) fecha "
       r"(?:vence|toca|debo|tengo)|fecha en (?:que|la que) (?:vence|toca|debo|tengo))\b"),
    _r("due_date", 0.9, r"\bwhen (?:is|are|was) (?:my |the |this )?(?:\w+ )?(?:payment|bill|"
       r"installment|instalment|debt|loan)s? due\b|\bdue date\b|\bdeadline\b|\bwhen do (?:i|we) "
       r"(?:have|need) to pay\b|\bhow (?:long|much time) do i have\b"),
    _r("due_date", 0.95, r"\b(?:el|mi) (?:pago|cuota|abono) (?:es|era|seria|toca|cae|vence) "
       r"(?:el|para el|los|cada) (?:\d{1,2}|dia|primero|quince|treinta)\b(?: (?:\w+ ){0,3}(?:o|u) )?"),
    # ---- balance: how much -------------------------------------------------------------
    _r("balance", 0.88, r"(?<!en )\bcuant[oa]s? (?!tiempo|dias)(?:\w+ ){0,3}(?:debo|debiendo|adeudando|debemos|adeudo|debe|pago|pagar|es|seria"
       r"|sale|queda|falta|tengo|va|llevo|asciende|suma|monto|saldo|total|deuda|dinero|liquidar|"
       r"saldar|finiquitar|quedar a mano|ponerme al corriente)\b"),
    _r("balance", 0.75, r"\b(?:saldo|adeudo|monto|estado de cuenta|deuda total|total (?:a pagar|"
       r"de la deuda|adeudado)|balance|lo que debo|que debo|lo que les debo|cuanto es|me falta "
       r"(?:por )?pagar|lo que me falta|restante|pendiente)\b"),
    _r("balance", 0.75, r"\b(?:informacion|detalles?|datos) (?:\w+ ){0,2}(?:deuda|cuenta|"
       r"credito|saldo|prestamo)\b"),
    _r("balance", 0.88, r"\bque tanto (?:\w+ ){0,2}(?:debo|adeudo|es|pago|falta|queda|"
       r"debemos)\b"),
    _r("balance", 0.6, r"\b(?:mi deuda|la deuda|mi cuenta)\b"),
    _r("balance", 0.88, r"\b(?:estado de cuenta|detalle de (?:la|mi) (?:deuda|cuenta|credito))\b"),
    # English
    _r("balance", 0.88, r"\bhow much (?:\w+ ){0,3}(?:owe|debt|balance|left|pay)\b|\b(?:my|the) "
       r"balance\b|\bwhat (?:do|does) i owe\b|\bpayoff\b"),
    # ---- greeting (anywhere: a weak hint; alone: greeting) -------------------------------
    # ---- unknown: who they are, what this is about (the assistant says who it is) ------
    _r("unknown", 0.8, r"\b(?:de (?:que|q) se trata|que es esto|quien(?:es)? (?:es|son|habla|me "
       r"habla|me escribe|escribe)|de (?:que|cual|donde) (?:empresa|banco|compania|parte) "
       r"(?:son|es|hablan|me hablan|escriben|me escriben)|de donde (?:me |nos )?(?:hablan|llaman|"
       r"escriben|marcan|habla|llama|escribe))\b"),
    _r("greeting", 0.5, r"\b(?:hola|buenos dias|buenas tardes|buenas noches|buenas|buen dia|"
       r"que tal|saludos)\b"),
)
# fmt: on

# A greeting is any social turn that asks for nothing: a hello, thanks, a goodbye, or a
# bare acknowledgement ("ok", "listo", "va", "sale", "👍").
GREETING_CORE = words("""hola buenos buenas buen saludos hey alo quiubo quihubo hello
gracias adios chao chau bye tal onda epa ey luego vemos pronto bendiciones
ok okey okay listo va vale dale sale perfecto entendido enterado aja bueno ya amable
agradezco agradecido agradecida acuerdo recibido recibida thanks thank hi hey bye morning
afternoon evening""")
GREETING_WORDS = GREETING_CORE | words("""dia dias tardes tarde noches noche que tal
muchas mil ok okay hasta luego pronto nos vemos senor senora senorita joven como esta estas
usted amigo amiga mucho gusto oye oiga disculpe perdon bien y muy pues saludo cordial
igualmente excelente bendiciones dios bendiga don dona todo todos a ustedes por favor la
informacion ayuda atencion su sumerce causa parce mano carnal compa ok okey listo va vale
dale sale perfecto entendido enterado aja bueno ya amable agradezco agradecido agradecida
de nada tan you good very much
""")
# "que Dios le pague" is thanks, not a payment.
_BLESSING = re.compile(r"\b(?:que )?dios (?:le|te|les|se lo|se los) (?:pague|bendiga|acompane)\b")

# Canonical phrases for what no rule caught: a whole message close to one of them
# (rapidfuzz's ratio) names its intent, with a lower confidence.
CANONICAL: dict[str, tuple[str, ...]] = {
    "stop": ("no me llamen", "no me escriban", "dejen de llamar", "dejen de escribir",
             "darme de baja", "no quiero mensajes", "no quiero llamadas", "no molesten"),
    "dispute": ("ya pague", "no es mi deuda", "no reconozco la deuda", "no debo nada",
                "quiero pruebas de la deuda", "es un fraude", "numero equivocado"),
    "agent": ("hablar con un asesor", "quiero un asesor", "persona real", "llamenme"),
    "installments": ("pagar en cuotas", "plan de pagos", "pagar en partes", "descuento"),
    "promise": ("pago el viernes", "pago la proxima semana", "pago en la quincena"),
    "pay": ("quiero pagar", "como pago", "donde pago", "link de pago"),
    "due_date": ("fecha limite", "cuando vence", "hasta cuando tengo"),
    "balance": ("cuanto debo", "mi saldo", "cuanto es la deuda"),
    "greeting": ("hola", "buenos dias", "buenas tardes", "gracias"),
}  # fmt: skip
_CANONICAL_PHRASES = [(phrase, intent) for intent, ps in CANONICAL.items() for phrase in ps]

CHANNEL_PATTERNS: dict[str, re.Pattern[str]] = {
    "whatsapp": re.compile(r"\bwhatsapps?\b"),
    "sms": re.compile(r"\bsms\b|\b(?:mensajes?|mensajitos?) de texto\b|\btext\w*|\btxt\b|"
                      r"\bmensajitos?\b|\bmensajes? al celular\b"),
    "email": re.compile(r"\bcorreos?\b|\be ?mails?\b|\bcorreo electronico\b"),
    # "hable" but not "ya hable con el banco" (a past tense, no channel).
    "call": re.compile(r"\bllam\w*|\bmarc(?:ar|ando|an|en)\w*|\bmarqu\w*|\bhabl(?:en|es|e|"
                       r"arme|ar|ando)\b(?! con)|\btimbr\w*|\bcolg\w*|\bpor telefono\b|"
                       r"\bcall\w*|\bphon\w*|\bring\w*"),
}  # fmt: skip

# Every word the rules name is vocabulary for the typo mender.
_EXTRA_VOCABULARY = words("""
llamen llames llame llamar llamarme llamando llamadas llamada marquen marcar marcarme
escriban escribir escribirme escribiendo manden mandar mandarme mandando envien enviar
enviarme contacten contactar contactarme molesten molestar molestarme molestando busquen
dejen paren basta baja whatsapp correo correos mensajes mensaje textos celular telefono
numero datos lista acoso hostigando pague pagado pagada liquide liquidado liquidada salde
saldada cancele cancelado cancelada deposite transferi comprobante voucher recibo
reflejado reflejo aplicado registrado cobrando cobraron reconozco debo debemos deuda
fraude estafa suplantacion identidad equivocado equivocada persona titular prescrita
prescribio monto cantidad intereses abusivos documentos documento soporte pruebas prueba
contrato pagare evidencia copia demuestren comprueben asesor asesora humano agente
ejecutivo ejecutiva operador operadora supervisor gerente encargado representante
llamenme llameme marquenme robot cuotas partes parcialidades mensualidades abonos plazos
plan pagos convenio arreglo financiar fraccionar diferir refinanciar descuento rebaja
quita condonacion oferta promocion mensual quincenal semanal quincena pagar pago pagaria
deposito depositar transferencia abonar liquidar saldar cubrir link liga enlace
referencia clabe oxxo yape plin nequi daviplata efecty bancolombia interbank tarjeta
efectivo forma formas medios opciones cuando fecha limite vencimiento vence vencio plazo
corte cuanto saldo adeudo total estado cuenta balance informacion detalle pendiente
restante hola buenos buenas saludos gracias adios manana viernes lunes martes miercoles
jueves sabado domingo semana proxima siguiente sueldo aguinaldo prometo comprometo
quiero necesito puedo podria favor hablar comunicarme platicar atender tiempo
""")


def _source(rule: Rule) -> str:
    """The rule's pattern with its escapes but \\w blanked ("\\bya" reads "ya")."""
    return re.sub(r"\\[a-vx-zA-Z]", " ", rule.pattern.pattern)


def _vocabulary() -> set[str]:
    found = set(_EXTRA_VOCABULARY) | GREETING_WORDS
    for rule in RULES:
        found.update(re.findall(r"[a-z]{3,}", _source(rule)))
    for phrases in CANONICAL.values():
        for phrase in phrases:
            found.update(phrase.split())
    return found


def _stems() -> set[str]:
    """The stems the rules end with a wildcard: "desuscrib" of "desuscrib\\w*", each
    of "(?:llam|marc)\\w*"."""
    found: set[str] = set()
    for rule in RULES:
        source = _source(rule).replace("\\w*", "@")
        found.update(re.findall(r"([a-z]+)@", source))
        for group in re.findall(r"\(\?:([a-z|]+)\)@", source):
            found.update(group.split("|"))
    return found


_MENDER = Mender(_vocabulary(), _stems(), spanish_stems())


def normalize(text: str) -> str:
    """The text the rules read: see selfservice/normalize.py."""
    return _MENDER.text(text)


def scores(text: str) -> dict[str, tuple[float, str | None]]:
    """Every intent some rule matched -> (best weight, kind of that rule)."""
    return _scores(normalize(text))


# A call put off, not refused: "no me llame ahorita", "no me llamen antes de las 5", "no
# me marquen en la mañana, mejor en la tarde" (a part of the day, with a time offered
# instead). Never with a word that makes it for good ("mas", "nunca", "ya no", "dejen").
_NOT_NOW = (
    rf"(?:ahorita|ahora|en este momento|por ahora|hoy|antes de (?:las? )?\d{{1,2}}|antes(?: del? "
    rf"(?:{WEEKDAY}|\d{{1,2}}|que (?:les |le )?pague)|$)|despues de "
    r"(?:las? )?\d{1,2}|en (?:horario|horas?) de (?:trabajo|oficina|clases?|comida))"
)
_DAYPART = (r"(?:(?:en|por) la (?:manana|tarde|noche)|de (?:manana|noche)|temprano|entre semana|"
            rf"los {WEEKDAY}|los fines de semana)")  # fmt: skip
_CALL_PUT_OFF = re.compile(
    rf"\bno (?:me |le |nos |lo |la )?(?:llam|marc|marqu|habl|contact)\w* (?:(?:a|en|al) (?:este|mi|"
    rf"el) \w+ )?(?:{_NOT_NOW}|(?P<daypart>{_DAYPART}))\b"
)
_INSTEAD = re.compile(
    r"\b(?:mejor|llam\w*me|marqu\w*me|me (?:llama|llaman|marca|marcan|hablan)|(?:le|les|te) "
    r"(?:contesto|llamo|marco|hablo|respondo)|ahi si|ya si)\b"
)
_FOR_GOOD = re.compile(
    r"\b(?:mas\b(?! (?:tarde|tardecito|al rato|rato|temprano))|nunca|jamas|vuelv\w+|sigan|siga|"
    r"dejen|deje|paren|basta|ningun\w*|nada|ya no)\b"
)


# "ahorita no, me llama en la tarde": the comma is gone, "no me llama" is not a stop.
_NOT_NOW_CALL_LATER = re.compile(
    rf"\b((?:ahorita|ahora|hoy) )no (?=me (?:llama|llamas|llame|marca|marcas|marque|habla|hablas)"
    rf" (?:\w+ ){{0,2}}(?:{LATER}|tipo \d{{1,2}})\b)"
)


def _put_off(plain: str) -> str:
    """The text without the calls it puts off to another time ("" when none is)."""
    if _NOT_NOW_CALL_LATER.search(plain) and not _FOR_GOOD.search(plain):
        return _NOT_NOW_CALL_LATER.sub(r"\1", plain)
    found = _CALL_PUT_OFF.search(plain)
    if found is None or _FOR_GOOD.search(plain):
        return ""
    if found.group("daypart") and not _INSTEAD.search(plain):
        return ""  # "no me llamen en la noche": no other time offered, a stop on calls
    return _CALL_PUT_OFF.sub(" ", plain)


# A cessation denied is a wish to keep being contacted, not a stop: "no me dejen de
# llamar", "no quiero que me dejen de escribir". Only with the pronoun or "quiero que"
# between: "no, dejen de llamarme" (its comma gone: "no dejen de llamarme") stays a stop.
_KEEP_CONTACTING = re.compile(
    r"\bno (?:(?:quiero|queremos|deseo|pido|es que quiera) que (?:me |nos )?|me |nos )(?:dejen|"
    rf"deje|dejes|dejaran|dejen ustedes) de (?:{CONTACT})|"
    # No objection to contact: "no me molesta que me llamen", "no tengo problema con que
    # me escriban", "no es que no quiera que me llamen".
    r"\bno (?:me |nos )?(?:molesta|importa|incomoda|molestaria|importaria)n? (?:que|si) "
    rf"(?:me |nos )?(?:{CONTACT})|\bno (?:tengo|hay|tenemos) (?:ningun )?problema (?:con |en |de )?"
    rf"(?:que |si )?(?:me |nos )?(?:{CONTACT})|\bno es que no (?:quiera|queramos) que (?:me |nos )?"
    rf"(?:{CONTACT})"
)
# Asking whether the message is genuine is no claim of fraud: "como se que no es una
# estafa", "esto es real o es estafa", "sera fraude?", "is this a scam".
LEGITIMACY = re.compile(
    r"\b(?:como (?:se|sabe|se yo|puedo saber|saber|confio|confiar|compruebo|verifico|se si)|"
    r"sera|seran|no sera|es real|son reales|real o|o es|is this|is it|are you|me da miedo que "
    r"sea|no vaya a ser|no vayan a ser|puede ser|parece|oficial o) (?:\w+ ){0,4}(?:estaf\w*|"
    r"fraude|scam|scammers|fraudulent|real|oficial|legit\w*|legitim\w*)\b"
)


def _scores(plain: str) -> dict[str, tuple[float, str | None]]:
    found: dict[str, tuple[float, str | None]] = {}
    rest = _put_off(plain)
    if rest:
        found["agent"] = (0.9, "callback")
    read = rest or plain
    if _KEEP_CONTACTING.search(read):
        found["agent"] = (0.9, "callback")
        read = _KEEP_CONTACTING.sub(" ", read)
    read = LEGITIMACY.sub(" ", read)
    for rule in RULES:
        best = found.get(rule.intent)
        if best is not None and best[0] >= rule.weight:
            continue
        if rule.pattern.search(read):
            found[rule.intent] = (rule.weight, rule.kind)
    if "due_date" in found and _CHANGE_DATE.search(read):
        del found["due_date"]  # "¿me pueden mover la fecha de pago al 20?"
    if _social(plain):
        found["greeting"] = (0.9, None)
    elif _when_only(plain):
        found["agent"] = (0.85, "callback")
    return found


# A message that is only a time to be reached ("mañana en la tarde", "a partir de las 7
# pm estoy libre", "entre 2 y 3"): when to call. (Answering the assistant's "¿para qué
# día?" it is the date of a promise: the dialogue reads it so.)
WHEN_WORDS = words("""manana tarde noche temprano tipo a las la el en de entre y hoy por favor
mejor si despues hora horas comida partir estoy libre fin semana mediodia como eso medio media
una un rato ratito mas tardecito al luego pm am o ya pasado otro dia mi desde ahi hablamos
lunes martes miercoles jueves viernes sabado domingo porfa antes""")
WHEN_CORE = words(
    "tarde noche temprano rato ratito tardecito hora horas pm am libre mediodia comida"
)


def _when_only(plain: str) -> bool:
    said = plain.split()
    return (
        bool(said)
        and all(
            w in WHEN_WORDS or w.isdigit() or re.fullmatch(r"\d{1,2}(?:am|pm)", w) for w in said
        )
        and any(w in WHEN_CORE or re.fullmatch(r"\d{1,2}(?:am|pm)?", w) for w in said)
        and not all(w.isdigit() for w in said)
    )


# A refusal to pay is no request to pay or promise: "no quiero pagar", "no pienso pagarles",
# "no me interesa pagar" (what else it asks is still read: "no voy a pagar en cuotas,
# quiero pagar todo" is a payment).
_REFUSAL = re.compile(
    r"\b(?:no|nunca|jamas) (?:les |le |te )?(?:quiero|queremos|voy a|vamos a|pienso|pensamos|"
    r"tengo (?:por que|porque|que)|tenemos (?:por que|porque|que)|me interesa|nos interesa|"
    r"(?:me |nos )?da la gana(?: de)?|tengo (?:la |ninguna |ni la menor |ni la mas minima )?"
    r"intencion de|tenemos (?:la |ninguna )?intencion de) (?:les |le |te )?"
    r"(?:pagar|abonar|depositar|liquidar)\w*\b|\bni (?:loco|loca|muerto|muerta|de chiste|de broma) "
    r"(?:les |le |te )?(?:pago|pagaria|voy a pagar)\b|"
    r"\b(?:i|we) (?:wont|will not|am not going to|refuse to|dont want to) pay\b"
)
# ... nor a plan (a refusal is no hardship), unless a rule reads one outside the refusal.
PAYING = ("pay", "promise", "installments")


def _refused(plain: str) -> frozenset[str]:
    """pay/promise a refusal takes away: those no rule reads outside the refusal."""
    if not _REFUSAL.search(plain):
        return frozenset()
    rest = _REFUSAL.sub(" ", plain)
    kept = {rule.intent for rule in RULES if rule.intent in PAYING and rule.pattern.search(rest)}
    return frozenset(PAYING) - kept


# "gracias por nada" is no thanks: sarcasm, a complaint.
_NO_THANKS = re.compile(r"\bgracias por nada\b|\bthanks for nothing\b")


def _social(plain: str) -> bool:
    """Only greetings, thanks, goodbyes and acknowledgements: asks for nothing."""
    if _NO_THANKS.search(plain):
        return False
    said = _BLESSING.sub(" gracias ", plain).split()
    return (
        bool(said)
        and all(w in GREETING_WORDS for w in said)
        and any(w in GREETING_CORE for w in said)
    )


_MESSAGES = re.compile(r"\bmensaj\w*|\bescrib\w*|\bmessag\w*|\bwrit\w*")
# A contact verb negated in the past, or not answering: an account of what happened,
# not a request ("no me llamaron ayer", "a veces no contesto las llamadas"); a message
# read ("ya vi su mensaje", "recibi su correo"): an acknowledgement.
_NOT_A_REQUEST = re.compile(
    rf"\b(?:no|nadie|nunca) (?:me |nos |le |les |te |lo |la )?(?:han |ha |habian |habia )?"
    rf"{CONTACT_ROOT}\w*"
    r"(?:aron|ieron|o|io|ado|ido)\b|\bno (?:\w+ )?(?:contest|respond|alcanc[eo] a contest)\w*|"
    r"\bse me (?:\w+ )?\w+(?:aron|ieron)\b|"
    r"\b(?:vi|lei|recibi|revise|checo|cheque) (?:su|tu|sus|tus|el|los|este|estos|ese|esos) "
    r"(?:mensaj|correo|whatsapp|sms)\w*"
)
# A channel the debtor keeps ("solo por correo", "mejor por whatsapp") is not stopped.
_KEPT_CHANNEL = re.compile(
    r"\b(?:solo|solamente|unicamente|mejor|que sea|sea) (?:\w+ )?(?:por|al|a mi|en|"
    r"via|con) (?:el |mi )?(?:correo(?: electronico)?|whatsapp|sms|"
    r"mensajes? de texto|llamadas?|telefono)\b"
)


# Contact no channel of STOP_CHANNELS carries (visits at home or to neighbours), or all
# of it (one's data deleted, ARCO's cancellation): the stop is on every channel.
_EVERY_CHANNEL = re.compile(
    r"\b(?:visit\w*|vengan|venir|ir a mi (?:casa|jato|trabajo|domicilio)|"
    r"(?:borr|elimin|cancel)\w* (?:\w+ ){0,2}(?:mis )?datos|derecho arco|\barco\b|habeas data|"
    r"nada (?:que ver )?con ustedes|saber nada de ustedes|por (?:aqui|aca|este medio|esta via)|x aca)"
)
# A verb of contact in general ("no me contacten", "no me busquen") with no channel
# attached to it: every channel, whatever a channel named elsewhere ("si me siguen
# llamando ... no me contacten mas").
_GENERAL_CONTACT = re.compile(
    r"\b(?:contact(?:en|e|es|ar|o|os)|busqu(?:en|e|es)|buscar|molest(?:en|e|es|ar|ando)|comuniquen|"
    r"comunicacion)\w*\b(?! (?:\w+ ){0,2}(?:por|x|al|a mi|via|con|en) "
    r"(?:el |la |mi |sus |los |las )?(?:whatsapp|correos?|sms|llamadas?|mensajes?|telefono|"
    r"celular|textos?|mensajitos?))"
)


def stop_channel(plain: str) -> str | None:
    """The one channel a stop request names; None when it names none or several.
    Messages in general ("mensajes", "escriban") are every message channel: with a
    message channel named they are that one, with calls they make it all. Visits or
    one's data deleted, and a general verb of contact with no channel of its own, are
    every channel."""
    plain = _KEPT_CHANNEL.sub(" ", plain)  # "no me manden whatsapp, solo por correo"
    if _EVERY_CHANNEL.search(plain) or _GENERAL_CONTACT.search(plain):
        return None
    named = [name for name, pattern in CHANNEL_PATTERNS.items() if pattern.search(plain)]
    if named == ["call"] and _MESSAGES.search(plain):
        return None
    return named[0] if len(named) == 1 else None


# A dispute no kind rule reads (the model's): the kind its words hint at.
_PROOF_WORDS = re.compile(
    r"\b(?:document\w*|contrato\w*|prueba\w*|soporte\w*|papel\w*|firma\w*|"
    r"pagare\w*|evidencia\w*|sustento|comprueb\w*|demuestr\w*|movimientos|desglose|proof|"
    r"contract)"
)
_PAID_WORDS = re.compile(
    r"\b(?:pague|pagado|pagamos|liquide|cancele|deposite|transferi|abone|"
    r"comprobante|voucher|recibo|arregle|arreglamos|finiquit\w*|(?:pago|deposito|abono|"
    r"transferencia) que (?:hice|realice))\b"
)


def dispute_kind(plain: str) -> str:
    """paid > proof > denies when several dispute rules match; with none, the words."""
    kinds = {r.kind for r in RULES if r.intent == "dispute" and r.pattern.search(plain)}
    for kind in ("paid", "proof", "denies"):
        if kind in kinds:
            return kind
    if _PAID_WORDS.search(plain):
        return "paid"
    if _PROOF_WORDS.search(plain):
        return "proof"
    return "denies"


def classify(text: str) -> Intent:
    """The intent of one debtor message (any string; never raises)."""
    return _classify(normalize(text if isinstance(text, str) else ""))


def classify_with(text: str, model: Model | None, safety: float = SAFETY_PROBABILITY) -> Intent:
    """classify() with another statistical model, or none (the rules alone), and another
    safety bar: for cross-validation in bench/intent_accuracy.py."""
    plain = normalize(text if isinstance(text, str) else "")
    found = _scores(plain)
    return decide(plain, found, model.probabilities(plain) if plain and model else {}, safety)


@lru_cache(maxsize=4096)
def _classify(plain: str) -> Intent:
    return decide(plain, _scores(plain), shipped().probabilities(plain) if plain else {})


def with_party(intent: Intent, plain: str) -> Intent:
    """The intent with who wrote it (selfservice/parties.py), whatever else it asks. News
    of the debtor's death is a dispute when nothing heavier (a stop) is asked: the
    account stops being contacted and a person reviews it, never a payment push."""
    found = party(plain)
    if found is None:
        return intent
    if found == DECEASED and intent.name not in SAFETY:
        return Intent("dispute", max(intent.confidence, 0.85), kind="denies", party=found)
    return replace(intent, party=found)


def decide(
    plain: str,
    found: dict[str, tuple[float, str | None]],
    probabilities: dict[str, float],
    safety: float = SAFETY_PROBABILITY,
) -> Intent:
    """The rules' matches and the model's probabilities made one intent.

    1. A stop or dispute rule matched: that intent, whatever else the message says.
    2. Nothing but courtesy ("ok", "gracias", "que Dios le pague"): a greeting.
    3. The model gives stop or dispute SAFETY_PROBABILITY or more: that intent. The
       bar is low on purpose: a false stop costs a handover to a person, a missed one
       is a breach of the law.
    4. Otherwise each intent scores its best rule's weight plus the model's probability;
       the highest wins (ties to the more specific intent). With no rule matched the
       model's choice needs MODEL_ALONE; else the nearest canonical phrase, else unknown.
    5. Who wrote it (a third party, news of a death) is kept on whatever won: with_party.
    """
    return with_party(_decide(plain, found, probabilities, safety), plain)


def _decide(
    plain: str,
    found: dict[str, tuple[float, str | None]],
    probabilities: dict[str, float],
    safety: float,
) -> Intent:
    for name in SAFETY:
        if name in found and found[name][0] >= THRESHOLD:
            weight, _ = found[name]
            return _safety(name, weight, plain)
    if _social(plain):  # nothing in it but courtesy: no model can make it a request
        return Intent("greeting", 0.9)
    likely = _model_safety(plain, found, probabilities, safety)
    if likely is not None:
        return _safety(likely, round(probabilities[likely], 2), plain)
    refused = _refused(plain)
    if refused:
        found = {name: hit for name, hit in found.items() if name not in refused}
        probabilities = {n: 0.0 if n in refused else p for n, p in probabilities.items()}
    matched = {name: hit for name, hit in found.items() if hit[0] >= THRESHOLD}
    if not matched:
        others = {n: p for n, p in probabilities.items() if n not in SAFETY}  # safety: above
        if others:
            best = max(others, key=lambda name: others[name])
            if best == "greeting" and _NO_THANKS.search(plain):
                return Intent("unknown", 0.8)  # "gracias por nada": no courtesy
            if others[best] >= MODEL_ALONE:
                return Intent(best, round(others[best], 2))
        return Intent("unknown", 0.8) if refused else _nearest(plain)
    candidates = set(matched) | {n for n in probabilities if n not in SAFETY}
    ranked = sorted(
        (
            (matched.get(name, (0.0, None))[0] + probabilities.get(name, 0.0),
             -_PRIORITY_INDEX.get(name, len(PRIORITY)), name)
            for name in candidates
        ),
        reverse=True,
    )  # fmt: skip
    score, _, name = ranked[0]
    kind = matched[name][1] if name in matched else None
    confidence = round(score / 2 if probabilities else score, 2)
    return Intent(name, min(1.0, confidence), kind=kind)


# Names called, nothing asked: "pinches rateros", "malditos bastardos". The model reads
# pieces of words ("basta" in "bastardos", "molest"), never a request to stop in these;
# the rules still read one ("ratas, ya no me llamen").
INSULTS = words("""ratas rata rateros ratero ladrones ladron usureros usurero buitres buitre
idiotas idiota imbeciles imbecil estupidos estupido pendejos pendejo putos puto putas cabrones
cabron bastardos bastardo malditos maldito malditas pinches pinche mugrosos asquerosos inutiles
payasos lacras lacra sinverguenzas sinverguenza cerdos perros mierda gonorreas gonorrea
malparidos malparido huevones cojudos conchudos tarados parasitos hdp hp hijueputas hijueputa
ojetes culeros mamones basura escoria vividores sanguijuelas delincuentes corruptos canallas
miserables desgraciados infelices malnacidos cochinos chupasangre chupasangres carroneros
mafiosos agiotistas""")
_INSULT_GLUE = words("""de la el los las su sus unos unas un una son es bola par manga banda
monton partida punta hijos hijo que y puro puros bien muy tan mas ya ustedes uds todos""")


def insult_only(plain: str) -> bool:
    """Every word a name called (or the words between names); one at least."""
    said = plain.split()
    return any(w in INSULTS for w in said) and all(w in INSULTS or w in _INSULT_GLUE for w in said)


def _model_safety(
    plain: str,
    found: dict[str, tuple[float, str | None]],
    probabilities: dict[str, float],
    safety: float,
) -> str | None:
    """The stop or dispute the model reads where no rule did, if any. Not in one word
    ("no", "mmm": too few letters to read; the one-word stops are rules), not a stop in
    a request to be called ("llamenme": the same letters as "no me llamen", and the
    negation is what the rules read), nor in what happened ("no me llamaron", "no
    contesto las llamadas": a past or a habit, no request), nor in names called and nothing
    else ("malditos bastardos"), and a higher bar against a strong rule of another intent."""
    if not probabilities or len(plain.split()) < 2:
        return None
    no_stop = (
        any(kind == "callback" for _, kind in found.values())
        or _NOT_A_REQUEST.search(plain) is not None
        or insult_only(plain)
    )
    names = [
        n
        for n in SAFETY
        if not (n == "stop" and no_stop) and not (n == "dispute" and LEGITIMACY.search(plain))
    ]
    if not names:
        return None
    likely = max(names, key=lambda name: probabilities.get(name, 0.0))
    strong = any(weight >= 0.85 for name, (weight, _) in found.items() if name not in SAFETY)
    bar = max(safety, STRONG_RULE_SAFETY_PROBABILITY) if strong else safety
    return likely if probabilities.get(likely, 0.0) >= bar else None


def _safety(name: str, confidence: float, plain: str) -> Intent:
    if name == "stop":
        return Intent("stop", confidence, channel=stop_channel(plain))
    return Intent("dispute", confidence, kind=dispute_kind(plain))


def _nearest(plain: str) -> Intent:
    if not plain:
        return Intent("unknown", 1.0)
    match = process.extractOne(
        plain,
        [phrase for phrase, _ in _CANONICAL_PHRASES],
        scorer=fuzz.ratio,
        score_cutoff=FALLBACK_CUTOFF,
    )
    if match is None:
        return Intent("unknown", 0.8)
    intent = _CANONICAL_PHRASES[match[2]][1]
    confidence = round(0.6 * match[1] / 100, 2)
    if intent == "stop":
        return Intent("stop", confidence, channel=stop_channel(plain))
    if intent == "dispute":
        return Intent("dispute", confidence, kind=dispute_kind(plain))
    return Intent(intent, confidence)
