"""English texts of the portal's chat box (console/portal_chat_views.py and its
templates), merged into translations_en.EN."""

PORTAL_CHAT_EN = {
    "Usted": "You",
    "Asesor": "Agent",
    "Un asesor le atenderá en cuanto esté libre; puede seguir escribiendo aquí.": "An agent will be with you as soon as one is free; you can keep writing here.",
    "Le atiende un asesor.": "An agent is with you.",
    "Esta conversación terminó. Escriba si quiere empezar otra.": "This conversation is over. Write if you want to start another one.",
    "Escriba su mensaje antes de enviarlo.": "Write your message before sending it.",
    "Su mensaje es demasiado largo: escriba hasta 1000 caracteres.": "Your message is too long: write up to 1000 characters.",
    "Ha enviado muchos mensajes en la última hora. Espere un momento antes de escribir de nuevo, "
    "o pida que le llamemos.": "You have sent many messages in the last hour. Wait a moment before writing again, "
    "or ask us to call you.",
    "No pudimos recibir su mensaje; inténtelo de nuevo.": "We could not receive your message; please try again.",
    "El chat no está disponible en este momento; inténtelo en unos minutos.": "The chat is not available right now; please try again in a few minutes.",
    "Escriba su pregunta: le responde nuestro asistente, y un asesor si lo pide.": "Write your question: our assistant answers, and an agent if you ask for one.",
    "Aún no hay mensajes. Pruebe con «¿Cuánto debo?» o «Quiero hablar con un asesor».": (
        "No messages yet. Our assistant understands Spanish best: try \u201c¿Cuánto debo?\u201d "
        "(how much do I owe?) or \u201cQuiero hablar con un asesor\u201d (I want to talk to an agent)."
    ),
    "Su mensaje": "Your message",
    "Enviar mensaje": "Send message",
    "Volver a mi cuenta": "Back to my account",
    "Su sesión terminó. Vuelva a confirmar su identidad para seguir.": "Your session has ended. Confirm your identity again to continue.",
    "Escríbanos: le responde nuestro asistente, y un asesor si lo pide.": "Write to us: our assistant answers, and an agent if you ask for one.",
    "Abrir el chat": "Open the chat",
    "Un asesor le respondió": "An agent replied",
    "Ver y responder": "View and reply",
}
