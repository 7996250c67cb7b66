"""The debtor-intent classifier: safety cases, regional phrasing, typos, bounds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobrador.cli import main
from selfservice import intent_model
from selfservice.intents import (
    INTENTS,
    Intent,
    classify,
    classify_with,
    insult_only,
    normalize,
    scores,
)
from selfservice.normalize import MAX_CHARS, Mender, fold, is_spanish, sound, spanish_stems


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("no me llamen mas", "call"),
        ("Ya no me marquen!!!", "call"),
        ("dejen de mandarme whatsapp", "whatsapp"),
        ("no me escriban al wsp", "whatsapp"),
        ("no quiero recibir mas correos", "email"),
        ("dejen de enviarme mensajes de texto", "sms"),
        ("BAJA", None),
        ("Stop.", None),
        ("dejen de molestarme", None),
        ("no me yamen", "call"),
    ],
)
def test_given_a_request_to_stop_when_classified_then_stop_on_its_channel(
    text: str, channel: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel) == ("stop", channel)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ya pague", "paid"),
        ("ya pagué la semana pasada, por qué me siguen cobrando?", "paid"),
        ("esa deuda no es mia", "denies"),
        ("yo nunca saque ningun credito con ustedes", "denies"),
        ("numero equivocado", "denies"),
        ("mandenme los documentos que soporten la deuda", "proof"),
    ],
)
def test_given_a_dispute_when_classified_then_dispute_of_its_kind(text: str, kind: str) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("dispute", kind)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("cuanto debo?", "balance"),
        ("cuamto le devo", "balance"),
        ("hasta cuando tengo para pagar", "due_date"),
        ("puedo pagar en cuotas?", "installments"),
        ("me pueden aser un descuento", "installments"),
        ("como pago? mandame la liga", "pay"),
        ("le pago el viernes sin falta", "promise"),
        ("en la quincena le deposito", "promise"),
        ("kiero ablar con un asesor", "agent"),
        ("llamenme mañana", "agent"),
        ("holaaa buenas tardes", "greeting"),
        ("jajaja", "unknown"),
        ("", "unknown"),
    ],
)
def test_given_regional_phrasing_and_typos_when_classified_then_the_intent(
    text: str, intent: str
) -> None:
    assert classify(text).name == intent


def test_given_ya_pague_and_quiero_pagar_then_dispute_and_pay_are_told_apart() -> None:
    assert classify("ya pague").name == "dispute"
    assert classify("ya quiero pagar").name == "pay"


def test_given_no_me_llamen_and_llamenme_then_stop_and_callback_are_told_apart() -> None:
    assert classify("no me llamen").name == "stop"
    callback = classify("llamenme por favor")
    assert (callback.name, callback.kind) == ("agent", "callback")


def test_given_a_stop_and_a_payment_ask_in_one_message_then_stop_wins() -> None:
    assert classify("quiero pagar pero no me llamen mas").name == "stop"


def test_given_a_partial_payment_then_not_a_paid_dispute() -> None:
    assert classify("ya pague la mitad, cuanto me falta?").name == "balance"


def test_given_accents_case_and_stretched_letters_then_folded() -> None:
    assert fold("¡CUÁNTO  debo, Señor!") == "cuanto debo senor"
    assert normalize("holaaaaa q tal") == "hola que tal"


def test_given_spanish_spelt_by_ear_then_the_same_sound() -> None:
    assert sound("yamen") == sound("llamen")
    assert sound("kiero") == sound("quiero")
    assert sound("vensimiento") == sound("vencimiento")


def test_given_a_word_near_nothing_then_the_mender_leaves_it() -> None:
    mender = Mender({"llamen", "deuda"})
    assert mender.mend("zzzzzz") == "zzzzzz"
    assert mender.mend("deuda") == "deuda"
    assert mender.mend("deuuda") == "deuda"


def test_given_a_huge_message_then_only_its_head_is_read() -> None:
    found = classify("no me llamen " + "bla " * 200_000)
    assert found.name == "stop"
    assert len(normalize("a" * 10 * MAX_CHARS)) <= MAX_CHARS


def test_given_the_stop_at_the_end_of_a_huge_message_then_it_is_read() -> None:
    # Bounded work reads a long text's head and tail: a closing request is not lost.
    assert classify("x " * MAX_CHARS + "no me llamen").name == "stop"
    story = "les cuento que me quede sin trabajo y estuve enfermo " * 12 + "ya no me llamen"
    assert len(story.split()) > 120 and len(story) < MAX_CHARS
    assert classify(story).name == "stop"


def test_given_a_huge_message_then_its_middle_is_not_read() -> None:
    # The price of bounded work (documented): a request in the middle is not seen.
    assert classify("x " * MAX_CHARS + "no me llamen" + " x" * MAX_CHARS).name == "unknown"


def test_given_head_and_tail_then_no_rule_reads_across_the_gap() -> None:
    # 131 words: the first 79 and the last 40 are read, "no me" ends the head and
    # "llamen" starts the tail; joined they would be a stop no one wrote.
    text = " ".join(["zz"] * 77 + ["no", "me"] + ["zz"] * 12 + ["llamen"] + ["zz"] * 39)
    assert "no me | llamen" in normalize(text)
    assert "stop" not in scores(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_given_any_text_then_classify_never_raises_and_is_bounded(text: str) -> None:
    found = classify(text)
    assert isinstance(found, Intent)
    assert found.name in INTENTS
    assert 0.0 <= found.confidence <= 1.0
    assert found.channel in (None, "sms", "whatsapp", "email", "call")
    assert found.name == "stop" or found.channel is None
    assert len(normalize(text)) <= MAX_CHARS


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "no",
                "me",
                "llamen",
                "ya",
                "pague",
                "cuotas",
                "hola",
                "$",
                "5",
                "¿",
                "ñ",
                "á",
                "  ",
                "\n",
                "\u200b",
                "🙏",
            ]
        ),
        max_size=400,
    )
)
def test_given_word_salad_of_keywords_then_classify_is_total(words: list[str]) -> None:
    found = classify(" ".join(words))
    assert found.name in INTENTS


def test_given_a_non_string_then_unknown() -> None:
    assert classify(None).name == "unknown"  # type: ignore[arg-type]


def test_given_the_cli_then_json_with_intent_and_confidence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bot", "intent", "dejen de mandarme whatsapp"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"intent": "stop", "confidence": out["confidence"], "channel": "whatsapp"}
    assert 0 < out["confidence"] <= 1


def test_given_the_cli_with_a_paid_dispute_then_its_kind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bot", "intent", "ya pagué"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["intent"], out["kind"]) == ("dispute", "paid")


def test_given_the_cli_with_news_of_a_death_then_the_party(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bot", "intent", "él falleció, no vuelvan a llamar"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["intent"], out["party"]) == ("stop", "deceased")


# ---- the labelled set (tests/fixtures/debtor_utterances.csv) --------------------------

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "debtor_utterances.csv"


def _labelled() -> list[dict[str, str]]:
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_given_the_labelled_set_then_it_is_big_varied_and_well_formed() -> None:
    rows = _labelled()
    assert len(rows) >= 300
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert len({r["text"] for r in rows}) == len(rows), "duplicate messages"
    assert {r["split"] for r in rows} <= {"tune", "holdout", "fresh", "fresh2", "fresh3",
                                          "fresh4", "sealed", "fresh5", "sealed2"}  # fmt: skip
    assert sum(r["split"] == "fresh4" for r in rows) >= 250  # batch A, another writer
    holdout = sum(r["split"] == "holdout" for r in rows)
    first = sum(r["split"] in ("tune", "holdout") for r in rows)
    assert 0.15 <= holdout / first <= 0.25  # a fifth of the first batch held out
    assert all(r["channel"] == "" or r["intent"] == "stop" for r in rows)


def test_given_the_labelled_set_then_no_stop_or_dispute_is_read_as_anything_else() -> None:
    missed = [
        (r["text"], classify(r["text"]).name)
        for r in _labelled()
        if r["intent"] in ("stop", "dispute") and classify(r["text"]).name != r["intent"]
    ]
    assert missed == []


def test_given_the_labelled_set_then_at_least_95_percent_are_read_right() -> None:
    rows = _labelled()
    right = sum(classify(r["text"]).name == r["intent"] for r in rows)
    assert right / len(rows) >= 0.95


def test_given_the_stops_of_the_labelled_set_then_their_channels_are_read_right() -> None:
    wrong = [
        r["text"]
        for r in _labelled()
        if r["intent"] == "stop" and classify(r["text"]).channel != (r["channel"] or None)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "text",
    ["favor de no llamar a este telefono", "no deben estar llamandome",
     "nunca me vuelvan a escribir", "que ya no me llegue nada por whatsapp"],
)  # fmt: skip
def test_given_a_negated_request_form_of_a_contact_verb_then_stop(text: str) -> None:
    assert classify(text).name == "stop"


@pytest.mark.parametrize(
    "text",
    ["no me llamaron ayer", "no me mandaron la liga de pago", "no puedo hablar, llamenme luego"],
)
def test_given_a_past_tense_or_a_callback_then_not_a_stop(text: str) -> None:
    assert classify(text).name != "stop"


def test_given_jamas_then_not_mended_into_llamas() -> None:
    assert normalize("jamas pedi un credito") == "jamas pedi un credito"
    assert classify("jamas pedi un credito").name == "dispute"


def test_given_a_word_starting_with_a_rule_stem_then_kept() -> None:
    assert normalize("desuscribirme") == "desuscribirme"


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("no les doy permiso de llamarme", "stop", "call"),
     ("suspendan todo contacto conmigo", "stop", None),
     ("alguien saco ese credito a mi nombre", "dispute", "denies"),
     ("ese prestamo nunca lo recibi", "dispute", "denies"),
     ("me llaman al rato?", "agent", "callback"),
     ("pongame con alguien que sepa", "agent", None),
     ("podria pagar la mitad ahora y la mitad el otro mes", "installments", None),
     ("pago en cuanto me depositen", "promise", None)],
)  # fmt: skip
def test_given_the_second_fresh_batchs_misses_then_read_right(
    text: str, intent: str, detail: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


def test_given_a_right_word_of_another_length_then_the_mender_keeps_it() -> None:
    assert normalize("alguien saco ese credito") == "alguien saco ese credito"
    assert normalize("cuanto estoy debiendo") == "cuanto estoy debiendo"
    assert normalize("cuamto") == "cuanto"


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("no quiero volver a recibir un sms de ustedes", "stop", "sms"),
     ("no me llamen al trabajo que me van a correr", "stop", "call"),
     ("no contacto por whatsapp por favor", "stop", "whatsapp"),
     ("mandeme el contrato para revisarlo", "dispute", "proof"),
     ("esos cargos no los hice yo", "dispute", "denies"),
     ("me regresan la llamada?", "agent", "callback"),
     ("se puede en cuotitas?", "installments", None)],
)  # fmt: skip
def test_given_the_third_fresh_batchs_misses_then_read_right(
    text: str, intent: str, detail: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


def test_given_no_contestar_las_llamadas_then_not_a_stop() -> None:
    # "no contacto" opens a message; inside one, "no contesto las llamadas" is no request.
    assert classify("a veces no contesto las llamadas").name != "stop"


# ---- batch A (another writer, never shown the classifier): what generalises ------------


@pytest.mark.parametrize("text", ["ok", "👍", "okey", "listo, gracias", "va, gracias",
                                  "muy amable, que Dios le pague", "ok entendido"])  # fmt: skip
def test_given_a_bare_acknowledgement_or_thanks_then_greeting(text: str) -> None:
    # Asks for nothing: a polite answer, never "not understood" (two of those hand over).
    assert classify(text).name == "greeting"


def test_given_thanks_with_a_payment_dispute_then_the_dispute() -> None:
    assert classify("gracias, pero ya le pague").name == "dispute"


@pytest.mark.parametrize("word", ["gente", "llegando", "perdi", "congelar", "carro", "conmigo"])
def test_given_a_real_spanish_word_then_the_mender_keeps_it(word: str) -> None:
    # Before the word list: "gente" became "agente", "llegando" "llamando", "perdi" "pedi".
    assert is_spanish(word, spanish_stems())
    assert normalize(word) == word


def test_given_a_typo_then_still_mended() -> None:
    assert normalize("kiero ablar cuamto devo") == "quiero hablar cuanto debo"


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("bajenme de su lista", "stop", None),
     ("Solicito que cesen todo contacto conmigo por cualquier medio", "stop", None),
     ("voy a denunciarlos a indecopi si siguen llamando, paren ya", "stop", "call"),
     ("no manches, dejen de estar chingando a cada rato", "stop", None),
     ("no me manden whatsapp, solo por correo", "stop", "whatsapp"),
     ("Por favor, dejen de contactarme, ya hablé con el banco", "stop", None),
     ("Esa cuenta la cerre hace años", "dispute", "paid"),
     ("regáleme el pagaré firmado, quiero verlo", "dispute", "proof"),
     ("la deuda es de mi ex esposo no mia", "dispute", "denies"),
     ("causa eso no lo saque yo, ni se q es", "dispute", "denies"),
     ("donde consigno parce", "pay", None),
     ("causa el sabado te yapeo 300", "promise", None),
     ("reprogramacion de deuda se puede?", "installments", None)],
)  # fmt: skip
def test_given_batch_as_first_sight_misses_then_read_right(
    text: str, intent: str, detail: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


# ---- the statistical model beside the rules ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [("no quiero mas nada con ustedes", "stop"),
     ("ese credito lo sacaron sin mi permiso", "dispute"),
     ("no tengo nada que ver con eso", "dispute"), ("esa deuda la tiene mi ex", "dispute")],
)  # fmt: skip
def test_given_a_stop_or_dispute_no_rule_reads_then_the_model_reads_it(
    text: str, intent: str
) -> None:
    # Examples the model reads well above the safety bar, so a retraining keeps them.
    assert classify_with(text, None).name != intent  # the rules alone miss it
    assert classify(text).name == intent


@pytest.mark.parametrize("text", ["no", "mmm", "jeje", "llamenme por favor",
                                  "me regresan la llamada?"])  # fmt: skip
def test_given_one_word_or_a_callback_then_the_model_alone_makes_no_stop(text: str) -> None:
    assert classify(text).name != "stop"


def test_given_a_stop_rule_and_a_payment_model_then_the_stop_wins() -> None:
    assert classify("quiero pagar hoy mismo pero ya no me escriban").name == "stop"


def test_given_the_char_ngrams_then_the_same_as_scikit_learns() -> None:
    text_feature = pytest.importorskip("sklearn.feature_extraction.text")
    analyzer = text_feature.TfidfVectorizer(
        analyzer="char_wb", ngram_range=intent_model.NGRAMS, lowercase=False
    ).build_analyzer()
    for text in ["no me llamen", "a", "ya pague  la  mitad", "", "desuscribirme hoy"]:
        assert intent_model.char_ngrams(text) == analyzer(text)


def test_given_the_shipped_model_then_it_is_what_training_on_the_set_makes() -> None:
    # Stale after a change to the set or to normalize.py: scripts/train-intent-model.
    pytest.importorskip("sklearn")
    shipped = intent_model.shipped()
    splits = shipped.trained_on.split(": ", 1)[1].split(", ")  # as the script records them
    rows = [r for r in _labelled() if r["split"] in splits]
    assert len(rows) == len(_labelled()), "the shipped model leaves a split out: retrain it"
    texts = [normalize(r["text"]) for r in rows]
    fresh = intent_model.train(texts, [r["intent"] for r in rows])
    assert shipped.classes == fresh.classes
    for text in texts[::7]:
        old, new = shipped.probabilities(text), fresh.probabilities(text)
        assert max(abs(old[c] - new[c]) for c in old) < 1e-3, text


def test_given_probabilities_then_they_sum_to_one_for_any_text() -> None:
    model = intent_model.shipped()
    for text in ["", "zzzz", "no me llamen", "ñ" * 50]:
        assert abs(sum(model.probabilities(text).values()) - 1) < 1e-9


def test_given_a_model_file_of_another_format_then_refused() -> None:
    with pytest.raises(ValueError, match="retrain"):
        intent_model.from_json('{"format": "other", "ngrams": [2, 5]}')


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("quiten mi info de su sistema", "stop", None),
     ("que dejen de marcarle a mi suegra", "stop", "call"),
     ("ya no me hablen por telefono, solo escribanme al correo", "stop", "call"),
     ("a que cuenta les transfiero", "pay", None),
     ("se puede pagar en la oficina directamente", "pay", None),
     ("mañana a las 10 hago la consignacion", "promise", None),
     ("se vence el 10 o el 12?", "due_date", None),
     ("normalizar el credito se puede?", "installments", None),
     ("yo pague puntual todas las cuotas, ese saldo es un error", "dispute", "paid")],
)  # fmt: skip
def test_given_the_sealed_batchs_first_sight_misses_then_read_right(
    text: str, intent: str, detail: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


@pytest.mark.parametrize("text", ["se me borraron los mensajes", "no me marcaron ayer"])
def test_given_what_happened_to_messages_or_calls_then_not_a_stop(text: str) -> None:
    assert classify(text).name != "stop"


# ---- batch C (a third writer): what its first sight showed, as classes of phrasing -------


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("please stop calling me", "stop", "call"),
     ("Don't text me again", "stop", "sms"),
     ("leave me alone", "stop", None),
     ("remove my number from your list", "stop", None),
     ("that's not my loan, wrong number", "dispute", "denies"),
     ("I never borrowed anything from you", "dispute", "denies"),
     ("I already paid it off last year", "dispute", "paid"),
     ("show me the contract I signed", "dispute", "proof")],
)  # fmt: skip
def test_given_a_stop_or_dispute_in_english_then_read(
    text: str, intent: str, detail: str | None
) -> None:
    # A legal duty in any language, though the assistant answers in Spanish.
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


@pytest.mark.parametrize(
    ("text", "intent"),
    [("how much do I owe you?", "balance"), ("where can I pay?", "pay"),
     ("I want to talk to a real person", "agent"), ("can I get a payment plan", "installments"),
     ("I'll pay on the 20th", "promise"), ("thanks", "greeting")],
)  # fmt: skip
def test_given_other_intents_in_english_then_read(text: str, intent: str) -> None:
    assert classify(text).name == intent


def test_given_english_contractions_then_one_word_and_whats_is_not_whatsapp() -> None:
    assert normalize("I'm sick and can’t work") == "im sick and cant work"
    assert normalize("what's my balance") == "what is my balance"
    assert normalize("mandame whats") == "mandame whatsapp"


def test_given_a_stop_sign_emoji_alone_then_stop() -> None:
    assert classify("🛑🛑").name == "stop"


@pytest.mark.parametrize(
    "text",
    ["no me llame ahorita, estoy en junta", "no me llamen antes de las 5",
     "no me marquen en la mañana, mejor en la tarde", "ahorita no, me llama en la tarde",
     "estoy manejando", "mañana en la tarde", "a partir de las 6 pm estoy libre"],
)  # fmt: skip
def test_given_a_call_put_off_or_a_time_to_call_then_a_callback(text: str) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("agent", "callback")


@pytest.mark.parametrize(
    "text",
    ["no me llamen en la noche", "ya no me llamen ahorita ni nunca",
     "no me llamen mas, ahorita estoy ocupado", "estoy desempleado, ya no me llamen"],
)  # fmt: skip
def test_given_a_call_refused_for_good_or_with_no_other_time_then_stop(text: str) -> None:
    assert (classify(text).name, classify(text).channel) == ("stop", "call")


@pytest.mark.parametrize(
    "text",
    ["me quede sin trabajo y no tengo para pagar", "estoy enfermo, no he podido trabajar",
     "lost my job, cant pay right now", "cuando consiga chamba les pago"],
)  # fmt: skip
def test_given_hardship_then_installments(text: str) -> None:
    # The assistant's answer to a debtor who cannot pay as agreed: the campaign's plans
    # (or a person when there are none).
    assert classify(text).name == "installments"


@pytest.mark.parametrize(
    ("text", "channel"),
    [("no quiero que vengan a mi casa ni que me llamen", None),
     ("si me siguen llamando los denuncio, no me contacten mas", None),
     ("ya no me manden whatsapp, que sea por correo", "whatsapp"),
     ("no me contacten por whatsapp", "whatsapp")],
)  # fmt: skip
def test_given_visits_or_contact_in_general_then_every_channel(
    text: str, channel: str | None
) -> None:
    found = classify(text)
    assert (found.name, found.channel) == ("stop", channel)


def test_given_part_of_the_instalments_paid_or_a_promise_to_settle_then_no_paid_dispute() -> None:
    assert classify("ya pague 2 cuotas, cuanto me falta?").name != "dispute"
    assert classify("le prometo que el 10 queda saldado").name == "promise"


# ---- the sealed batch D: its stop/dispute misses at first sight, as classes -------------


@pytest.mark.parametrize(
    ("text", "intent", "detail"),
    [("pedi 2000 y ahora me cobran 7000", "dispute", "denies"),
     ("solo me depositaron 800, no voy a pagar eso", "dispute", "denies"),
     ("debo 300 no 900", "dispute", "denies"),
     ("los intereses no son los que acordamos", "dispute", "denies"),
     ("revisen, el deposito se hizo el lunes", "dispute", "paid"),
     ("estoy al corriente en mis pagos", "dispute", "paid"),
     ("de donde sacaron mi numero? no tengo ninguna deuda", "dispute", "denies"),
     ("no quiero tratar con ustedes nunca mas", "stop", None),
     ("paren ya", "stop", None)],
)  # fmt: skip
def test_given_batch_ds_kinds_of_stop_and_dispute_then_read(
    text: str, intent: str, detail: str | None
) -> None:
    # An amount denied, a payment made, a question about one's number (no request to
    # delete it), talking to them no more, "para ya" alone.
    found = classify(text)
    assert (found.name, found.channel or found.kind) == (intent, detail)


def test_given_nothing_to_do_with_them_or_this_channel_then_every_channel() -> None:
    assert classify("no me manden sms, no quiero nada con ustedes").channel is None
    assert classify("no me llamen mas por aqui").channel is None


# ---- who wrote it: a third party or news of a death (selfservice/parties.py) ----------


@pytest.mark.parametrize(
    "text",
    [
        "este celular ya no es de él, lo cambió",
        "ya no es su numero, lo perdio",
        "soy su esposa, él no está",
        "hablan con su mamá, ella no sabe nada",
        "no es el, es su hermano",
        "quien es maria? aqui no hay ninguna maria",
        "equivocado",
        "sorry wrong number",
        "i'm not the person you are looking for",
    ],
)
def test_given_someone_who_is_not_the_debtor_then_third_party_whatever_the_intent(
    text: str,
) -> None:
    assert classify(text).party == "third_party"


def test_given_a_wrong_number_with_a_stop_then_the_stop_wins_and_the_party_is_kept() -> None:
    found = classify("numero equivocado, ya no me escriban")
    assert (found.name, found.party) == ("stop", "third_party")
    relayed = classify("soy su mamá, dice que el viernes les paga")
    assert (relayed.name, relayed.party) == ("promise", "third_party")


@pytest.mark.parametrize(
    "text",
    ["el fallecio hace dos meses", "la señora falleció en enero", "mi hermano falleció, yo tengo "
     "su teléfono", "mi esposo ya murio, que hago con la deuda?", "she passed away in june"],
)  # fmt: skip
def test_given_news_of_the_debtors_death_then_a_dispute_marked_deceased(text: str) -> None:
    found = classify(text)
    assert (found.name, found.kind, found.party) == ("dispute", "denies", "deceased")


def test_given_a_death_and_a_stop_then_stop_keeps_the_deceased_mark() -> None:
    found = classify("ella falleció, no vuelvan a llamar")
    assert (found.name, found.party) == ("stop", "deceased")


@pytest.mark.parametrize(
    "text",
    ["fallecio mi esposo y no tengo como pagar", "mi mamá murió, tuve que pagar el funeral y no "
     "me queda nada", "se me murio mi papa y estoy cubriendo todos los gastos"],
)  # fmt: skip
def test_given_a_death_in_the_writers_family_and_their_own_hardship_then_installments(
    text: str,
) -> None:
    found = classify(text)
    assert (found.name, found.party) == ("installments", None)


def test_given_a_cessation_denied_then_a_wish_to_be_called_not_a_stop() -> None:
    for text in ("no me dejen de llamar, ahorita no puedo pero en la noche si",
                 "no quiero que me dejen de escribir"):  # fmt: skip
        assert classify(text).name != "stop", text
    # The comma is lost in reading: "no, dejen de ..." must stay a stop.
    assert classify("No, dejen de llamarme").name == "stop"
    assert classify("no me dejen de llamar... mentira, ya no me llamen").name == "stop"


def test_given_a_question_whether_it_is_a_scam_then_no_dispute() -> None:
    for text in ("como se que no es una estafa?", "sera fraude esto?", "is this legit or a scam"):
        assert classify(text).name != "dispute", text
    assert classify("esto es una estafa").name == "dispute"


def test_given_thanks_for_nothing_then_not_a_greeting() -> None:
    assert classify("que servicio, gracias por nada").name != "greeting"
    assert classify("gracias").name == "greeting"


def test_given_days_and_times_cut_short_then_spelt_out() -> None:
    assert normalize("el vier le pago, dsp de las 5") == "el viernes le pago despues de las 5"
    assert classify("el vier le pago tmb lo de la otra cuota").name == "promise"


@pytest.mark.parametrize(
    "text", ["ya le yapee ayer", "ya consigne lo de la cuota", "hice la consignacion el lunes"]
)
def test_given_a_payment_told_with_a_regional_verb_then_a_paid_dispute(text: str) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("dispute", "paid")


def test_given_de_a_poquitos_then_installments() -> None:
    assert classify("me puedo poner al dia pagando de a poquitos?").name == "installments"


@pytest.mark.parametrize(
    "text", ["when is my payment due?", "what's the due date", "when do I have to pay"]
)
def test_given_a_due_date_question_in_english_then_due_date(text: str) -> None:
    assert classify(text).name == "due_date"


# ---- the held-out set (tests/fixtures/debtor_utterances_heldout.csv) ------------------

HELDOUT = FIXTURE.with_name("debtor_utterances_heldout.csv")


def test_given_the_held_out_set_then_new_well_formed_and_split_in_two_halves() -> None:
    with HELDOUT.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 300
    known = {normalize(r["text"]) for r in _labelled()}
    # New: none reads as a message of the labelled set (one that reads as nothing, an
    # attachment's placeholder, is no copy of anything).
    assert not [r["text"] for r in rows if normalize(r["text"]) and normalize(r["text"]) in known]
    for row in rows:
        assert row["intent"] in INTENTS and set(filter(None, row["also"].split("|"))) <= set(
            INTENTS
        )
        assert row["stop"] in ("0", "1") and row["party"] in ("", "third_party", "deceased")
        assert row["half"] in ("dev", "test")
        assert row["stop"] == "0" or row["intent"] == "stop", row["text"]
    assert {r["half"] for r in rows} == {"dev", "test"}


FRESH = FIXTURE.with_name("debtor_utterances_fresh.csv")


def test_given_the_fresh_set_then_new_well_formed_and_split_in_two_halves() -> None:
    with FRESH.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 150
    with HELDOUT.open(encoding="utf-8", newline="") as fh:
        heldout = list(csv.DictReader(fh))
    known = {normalize(r["text"]) for r in [*_labelled(), *heldout]}
    # New: none reads as a message of the labelled or the held-out set.
    assert not [r["text"] for r in rows if normalize(r["text"]) in known]
    assert len({normalize(r["text"]) for r in rows}) == len(rows)
    for row in rows:
        assert row["intent"] in INTENTS and set(filter(None, row["also"].split("|"))) <= set(
            INTENTS
        )
        assert row["stop"] in ("0", "1") and row["party"] in ("", "third_party", "deceased")
        assert row["half"] in ("dev", "test") and row["region"] in ("MX", "CO", "PE")
        assert row["stop"] == "0" or row["intent"] == "stop", row["text"]
        assert (row["channel"] != "") == (row["stop"] == "1"), row["text"]
    assert {r["half"] for r in rows} == {"dev", "test"}


@pytest.mark.parametrize(
    "text", ["no quiero pagar", "no pienso pagarles", "no me interesa pagar", "i won't pay this"]
)
def test_given_a_refusal_to_pay_then_neither_pay_nor_promise(text: str) -> None:
    assert classify(text).name not in ("pay", "promise")


def test_given_a_refusal_of_one_way_and_a_payment_then_the_payment_is_still_read() -> None:
    assert classify("no quiero pagar en cuotas, les pago el viernes todo").name == "promise"
    assert classify("quiero pagar").name == "pay"


@pytest.mark.parametrize(
    "text", ["los voy a bloquear", "ya te bloquee", "voy a bloquear este numero"]
)
def test_given_a_threat_to_block_them_then_stop(text: str) -> None:
    assert classify(text).name == "stop"


def test_given_a_card_blocked_then_no_stop() -> None:
    assert classify("me bloquearon la tarjeta").name != "stop"


@pytest.mark.parametrize(
    "text", ["🎤 Nota de voz (0:32)", "<attached: 00000012-AUDIO-2024-03-01.opus>",
             "<Multimedia omitido>", "Audio (0:14)", "Este mensaje fue eliminado"],
)  # fmt: skip
def test_given_an_attachment_or_voice_note_placeholder_then_nothing_is_read(text: str) -> None:
    assert normalize(text) == ""
    assert classify(text).name == "unknown"


def test_given_a_placeholder_with_a_caption_then_the_caption_is_read() -> None:
    assert classify("📷 Foto ya pagué, ahí va el comprobante").name == "dispute"
    assert classify("[audio] ya no me manden nada").name == "stop"
    assert classify("dejen de mandarme audios").name == "stop"


@pytest.mark.parametrize(
    "text", ["no me molesta que me llamen, pero en la tarde", "no tengo problema con que me "
             "escriban", "no es que no quiera que me llamen, es que estoy trabajando"],
)  # fmt: skip
def test_given_no_objection_to_being_contacted_then_not_a_stop(text: str) -> None:
    assert classify(text).name != "stop"


def test_given_a_payment_made_in_english_then_a_paid_dispute() -> None:
    found = classify("i already made the payment")
    assert (found.name, found.kind) == ("dispute", "paid")


@pytest.mark.parametrize(
    "text", ["el vive en estados unidos, no tiene este numero", "le doy su recado cuando venga",
             "ese es el celular de mi mama, ella esta enferma", "mi hijo es el que debe, no yo"],
)  # fmt: skip
def test_given_more_ways_of_answering_for_someone_else_then_third_party(text: str) -> None:
    assert classify(text).party == "third_party"


@pytest.mark.parametrize("text", ["ya no esta con nosotros", "fallecio", "q.e.p.d."])
def test_given_a_death_told_without_saying_whose_then_deceased(text: str) -> None:
    assert classify(text).party == "deceased"


def test_given_nothing_more_to_do_with_them_after_a_longer_object_then_stop_and_dispute() -> None:
    text = "ya no quiero saber nada de esa deuda ni de ustedes"
    assert "stop" in scores(text) and classify("unsub").name == "stop"


# ---- the fresh set's lessons (tests/fixtures/debtor_utterances_fresh.csv, dev half) ----


@pytest.mark.parametrize(
    "text",
    ["le mandé el depósito el jueves", "el viernes le deposité", "el 2 transferí todo",
     "mandé la lana desde el sábado", "envié el dinero el 28 de noviembre",
     "mi hermana pagó por mí ayer", "el sabado mi mama deposito lo de la cuota"],
)  # fmt: skip
def test_given_a_payment_told_as_done_with_its_day_then_a_paid_dispute_not_a_promise(
    text: str,
) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("dispute", "paid")


@pytest.mark.parametrize(
    "text",
    ["el lunes le mando la transferencia", "el próximo lunes deposito", "deposito el 3",
     "el lunes que viene les transfiero", "les pago el viernes que viene",
     "mi esposo paga el viernes", "cuando deposite el lunes les aviso"],
)  # fmt: skip
def test_given_a_payment_to_come_with_its_day_then_a_promise_not_a_paid_dispute(text: str) -> None:
    assert classify(text).name == "promise"


@pytest.mark.parametrize(
    "text",
    ["estoy de luto, se murió mi tío, denme tiempo", "se murio mi abuelo, no estoy bien",
     "mi papá falleció la semana pasada, estoy devastada, luego les escribo",
     "acabo de enterrar a mi hermana, tengan consideracion"],
)  # fmt: skip
def test_given_the_debtor_mourning_a_relative_then_no_news_of_the_debtors_death(
    text: str,
) -> None:
    found = classify(text)
    assert found.party is None and found.name != "stop"


@pytest.mark.parametrize(
    "text",
    ["mi papá falleció, este era su número", "Pedro falleció en mayo, ya no lo busquen",
     "la señora murió, estamos muy tristes, ya no le escriban", "mi mamá falleció, denme tiempo "
     "para arreglar sus papeles", "el titular fallecio, estoy de luto"],
)  # fmt: skip
def test_given_grief_with_words_that_the_dead_was_the_one_sought_then_still_deceased(
    text: str,
) -> None:
    assert classify(text).party == "deceased"


@pytest.mark.parametrize(
    "text", ["malditos bastardos", "bola de bastardos", "pendejos bastardos", "pinches rateros"]
)
def test_given_only_names_called_then_the_model_alone_reads_no_stop(text: str) -> None:
    assert classify(text).name != "stop"


@pytest.mark.parametrize(
    "text", ["bastardos, ya no me llamen", "ratas, dejen de molestar", "malditos, borren mi numero"]
)
def test_given_names_called_and_a_stop_then_the_stop_is_kept(text: str) -> None:
    assert classify(text).name == "stop"


def test_given_a_word_of_annoyance_among_names_called_then_it_may_still_read_as_a_stop() -> None:
    # Not names only: "molestos" says their contact is unwanted; the model may read a stop.
    assert not insult_only(normalize("bastardos molestos"))
    assert insult_only(normalize("son unos pinches bastardos"))
    assert not insult_only("")


@pytest.mark.parametrize(
    "text", ["no tengo saldo, me marcan ustedes?", "no puedo llamar, me llaman por favor"]
)
def test_given_a_call_asked_for_after_a_no_then_a_callback_not_a_stop(text: str) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("agent", "callback")


def test_given_who_is_calling_asked_then_no_callback() -> None:
    assert classify("de donde me hablan").name == "unknown"
    assert classify("de qué se trata esto?").name == "unknown"
    assert classify("ya no me llaman").name == "stop"


@pytest.mark.parametrize(
    "text",
    ["nadie me ha llamado para explicarme la deuda", "nunca me llamaron para avisarme"],
)
def test_given_no_call_ever_made_then_no_stop(text: str) -> None:
    assert classify(text).name != "stop"


@pytest.mark.parametrize(
    "text", ["no tengo intención de pagarles", "ni loca les pago", "no tengo ninguna intencion de "
             "pagar eso"],
)  # fmt: skip
def test_given_a_refusal_then_neither_a_payment_nor_a_plan(text: str) -> None:
    assert classify(text).name not in ("pay", "promise", "installments")


def test_given_a_refusal_and_a_hardship_then_the_hardship_is_still_read() -> None:
    assert classify("no tengo intención de pagar, me quedé sin trabajo").name == "installments"
    assert classify("no quiero pagar en cuotas, les pago el viernes todo").name == "promise"


@pytest.mark.parametrize(
    "text", ["en cuanto pueda les pago", "apenas pueda les abono", "a ver si les puedo dar algo",
             "el otro mes les doy un poco"],
)  # fmt: skip
def test_given_a_payment_with_no_day_or_only_a_part_then_installments(text: str) -> None:
    assert classify(text).name == "installments"


def test_given_a_payment_tried_and_failed_then_pay() -> None:
    assert classify("intenté pagar en línea y no pasó").name == "pay"
    assert classify("queria pagar hoy pero no se como").name == "pay"


@pytest.mark.parametrize(
    "text", ["aquí le habla la hermana de Ana", "le escribe su vecino, ella ya se cambió de casa",
             "el señor ya se mudo"],
)  # fmt: skip
def test_given_someone_speaking_for_the_debtor_or_a_move_then_third_party(text: str) -> None:
    assert classify(text).party == "third_party"


def test_given_the_writers_own_move_then_no_third_party() -> None:
    assert classify("me mudé y cambié de número").party is None


# ---- the fresh set's test half, read after the dev half's fixes (seen, no longer unseen) --


@pytest.mark.parametrize(
    "text", ["ya no labora aqui", "el joven ya no labora en esta empresa",
             "le preste el celular a mi sobrino, no se de que deuda hablan"],
)  # fmt: skip
def test_given_a_colleague_or_a_lent_phone_then_third_party(text: str) -> None:
    assert classify(text).party == "third_party"


def test_given_a_question_whether_they_mean_to_swindle_then_no_dispute() -> None:
    assert classify("esto es real o me quieren estafar?").name != "dispute"
    assert classify("ustedes me quieren estafar").name == "dispute"


@pytest.mark.parametrize("text", ["pagado", "Ya pagado", "liquidado todo", "saldada"])
def test_given_a_bare_participle_of_payment_then_a_paid_dispute(text: str) -> None:
    found = classify(text)
    assert (found.name, found.kind) == ("dispute", "paid")


def test_given_cancelado_alone_then_no_paid_dispute_that_could_hide_a_stop() -> None:
    # "cancelado" is also "cancel it": a paid dispute would win over nothing but a stop.
    assert classify("cancelado").kind != "paid"


@pytest.mark.parametrize("text", ["ahorita no tengo, luego veo", "por ahora no tenemos"])
def test_given_nothing_to_pay_with_now_then_hardship(text: str) -> None:
    assert classify(text).name == "installments"


def test_given_no_time_now_then_still_a_callback() -> None:
    assert classify("ahorita no tengo tiempo").name == "agent"


@pytest.mark.parametrize(
    "text", ["me pueden mover la fecha de pago al 25?", "quisiera recorrer mi dia de pago"]
)
def test_given_a_change_of_the_payment_date_then_installments_not_due_date(text: str) -> None:
    assert classify(text).name == "installments"
    assert classify("cual es mi fecha de pago").name == "due_date"


@pytest.mark.parametrize(
    "text", ["el viernes deposito, no me llamen antes", "no me marquen antes del lunes"]
)
def test_given_calls_put_off_until_a_day_then_a_callback_not_a_stop(text: str) -> None:
    assert classify(text).name != "stop"
    assert scores(text)["agent"] == (0.9, "callback")


@pytest.mark.parametrize(
    "text", ["ya no me llamen antes", "no me llamen nunca, ni antes ni despues",
             "no me llamen antes ni despues del lunes"],
)  # fmt: skip
def test_given_calls_refused_for_good_with_antes_then_still_a_stop(text: str) -> None:
    assert classify(text).name == "stop"


@pytest.mark.parametrize(
    "text",
    ["mañana temprano paso al banco a depositarles", "hoy en la noche paso a pagarles"],
)
def test_given_a_day_and_a_part_of_it_then_a_promise(text: str) -> None:
    assert classify(text).name == "promise"
