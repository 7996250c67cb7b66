"""Debtors' replies on a message channel: "BAJA" and the other stop words still go to
the opt-out (and nowhere else), any other text to the chat (`on_message`); a channel
with no chat keeps today's behaviour."""

from __future__ import annotations

from sqlalchemy import Engine

from gateways.kannel import KannelSettings
from outreach.channels import Reply
from outreach.channels.delivery import DeliveryBook
from outreach.channels.message_channel import MessageChannel
from outreach.channels.sms_kannel import kannel_sms_channel

NUMBER = "+525512345678"


def channel(engine: Engine, stops: list[Reply], chats: list[Reply] | None) -> MessageChannel:
    async def opt_out(reply: Reply) -> None:
        stops.append(reply)

    async def on_message(reply: Reply) -> None:
        assert chats is not None
        chats.append(reply)

    settings = KannelSettings("http://127.0.0.1:1/cgi-bin/sendsms", "u", "p",
                              "http://127.0.0.1:1", "tok")  # fmt: skip
    made = kannel_sms_channel(settings, DeliveryBook(engine), opt_out=opt_out)
    if chats is not None:
        made.on_message = on_message
    return made


async def test_given_stop_words_and_questions_then_each_goes_its_own_way(engine: Engine) -> None:
    stops: list[Reply] = []
    chats: list[Reply] = []
    sms = channel(engine, stops, chats)
    for text in ("BAJA", "Stop.", "¡no más!", "cuanto debo?", "quiero hablar con un asesor"):
        await sms.on_reply(NUMBER, text)
    assert [r.text for r in stops] == ["BAJA", "Stop.", "¡no más!"]
    assert [r.text for r in chats] == ["cuanto debo?", "quiero hablar con un asesor"]
    assert {r.address for r in chats} == {NUMBER}


async def test_given_no_chat_then_other_replies_change_nothing(engine: Engine) -> None:
    stops: list[Reply] = []
    sms = channel(engine, stops, None)
    reply = await sms.on_reply(NUMBER, "cuanto debo?")
    await sms.on_reply(NUMBER, "BAJA")
    assert reply.text == "cuanto debo?" and [r.text for r in stops] == ["BAJA"]
