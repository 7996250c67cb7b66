"""English texts of the debtor's self-service portal and of the debtor actions'
messages (selfservice/debtor_actions.py), merged into translations_en.EN."""

PORTAL_EN = {
    # the agent's timeline
    "Portal de autoservicio": "Self-service portal",
    "Acción del deudor": "Debtor's own action",
    "Entró al portal (identidad verificada)": "Entered the portal (identity checked)",
    "Prometió un pago": "Promised a payment",
    "Eligió un plan de pagos": "Chose a payment plan",
    "Pidió que le llamen": "Asked to be called back",
    "Disputó la deuda o pidió sus documentos": "Disputed the debt or asked for its documents",
    "Pidió no ser contactado por un canal": "Asked not to be contacted on a channel",
    "Escribió un mensaje": "Wrote a message",
    # selfservice/debtor_actions.py
    "El monto pasa del saldo de la cuenta.": "The amount is more than the account's balance.",
    "La fecha no puede estar en el pasado.": "The date cannot be in the past.",
    "La fecha pasa del máximo de {dias} días.": "The date is past the maximum of {dias} days.",
    "El número de pagos no es válido.": "The number of payments is not valid.",
    "El descuento no es válido.": "The discount is not valid.",
    "Ese plan no existe.": "That plan does not exist.",
    "Falta la zona horaria de la hora pedida.": "The requested time has no time zone.",
    "Elija una hora al menos 15 minutos después de ahora.": "Choose a time at least 15 minutes from now.",
    "Elija una hora dentro de los próximos {dias} días.": "Choose a time within the next {dias} days.",
    "Usted pidió no recibir llamadas.": "You asked not to receive calls.",
    "Esa hora está fuera del horario permitido para llamarle.": "That time is outside the hours we are allowed to call you.",
    "Elija el motivo de la disputa.": "Choose the reason for the dispute.",
    "Ese canal no existe.": "That channel does not exist.",
    "No se pudo registrar la baja.": "The opt-out could not be recorded.",
    "La cuenta no existe.": "The account does not exist.",
    "Esta cuenta no admite acuerdos ahora; llámenos.": "This account takes no agreements now; please call us.",
    "La cuenta no tiene saldo pendiente.": "The account has no balance due.",
    "La campaña no admite planes ahora; llámenos.": "No plans can be made now; please call us.",
    "Escriba un monto mayor que cero, con hasta dos decimales.": "Type an amount above zero, with at most two decimals.",
    "El texto pasa de {maximo} caracteres.": "The text is longer than {maximo} characters.",
    "Ese número no es uno de los de su cuenta.": "That number is not one of your account's.",
    "No tenemos un número al que llamarle.": "We have no number to call you on.",
}
