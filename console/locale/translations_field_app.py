"""English for the field app (console/templates/field.html, console/static/field/app.js
through console/field_views.py FIELD_APP_TEXTS) and its questionnaire's words
(field/questionnaire.py)."""

FIELD_APP_EN = {
    # console/field_views.py: a queued act sealed to a key the console lacks (kept, resent)
    "La consola no tiene la clave de esta operación guardada; se enviará de nuevo.": (
        "The console does not have the key of this saved operation; it will be sent again."
    ),
    # console/field_views.py reopen_result: a body with no answers in it
    "No hay respuestas que abrir.": "There are no answers to open.",
    "Visitada": "Visited",
    "Omitida": "Skipped",
    "Resultado por enviar": "Result to send",
    "Omisión por enviar": "Skip to send",
    "Llegada registrada": "Arrival recorded",
    "Llegada por validar": "Arrival to confirm",
    "Llegada rechazada": "Arrival refused",
    "No visitar": "Do not visit",
    "Cancelada": "Cancelled",
    "Cancelada · constancia guardada": "Cancelled · kept as evidence",
    "Llegada rechazada · constancia guardada": "Arrival refused · kept as evidence",
    "El supervisor canceló esta visita después de su llegada. Anote lo que pasó en la puerta: "
    "se guarda como constancia y no se registran promesas.": (
        "The supervisor cancelled this visit after your arrival. Record what happened at the "
        "door: it is kept as evidence and no promise is recorded."
    ),
    "El supervisor canceló esta visita; lo que registró en la puerta quedó guardado como "
    "constancia.": "The supervisor cancelled this visit; what you recorded at the door is kept as evidence.",
    "No se puede visitar esta cuenta: {motivo}.": "This account may not be visited: {motivo}.",
    "Sin ruta guardada.": "No route saved.",
    "{visitas} visitas · {abiertas} por hacer · por recorrer {distancia} (en línea recta)": (
        "{visitas} visits · {abiertas} to do · {distancia} to go (as the crow flies)"
    ),
    "a {distancia}": "{distancia} away",
    "La llegada fue rechazada.": "The arrival was refused.",
    "Llegada registrada a {distancia} del domicilio.": "Arrival recorded {distancia} from the address.",
    "No se guardó el resultado.": "The result was not saved.",
    "Resultado guardado.": "Result saved.",
    "Este teléfono no da la ubicación.": "This phone does not give its location.",
    "Permita el acceso a la ubicación para registrar la llegada.": (
        "Allow access to the location to record the arrival."
    ),
    "No se pudo obtener la ubicación; inténtelo de nuevo.": (
        "The location could not be obtained; try again."
    ),
    "Obteniendo la ubicación…": "Getting the location…",
    "La foto es demasiado grande incluso reducida; tómela de nuevo.": (
        "The photo is too large even reduced; take it again."
    ),
    "Respuesta ilegible del servidor.": "Unreadable answer from the server.",
    "1 pendiente": "1 pending",
    "{n} pendientes": "{n} pending",
    "En línea": "Online",
    "Sin conexión": "Offline",
    "Inicie sesión de nuevo": "Log in again",
    "No puede salir todavía: 1 operación no se ha enviado. Conéctese a internet y pulse "
    "«Sincronizar»; podrá salir cuando se haya enviado.": (
        "You cannot log out yet: 1 operation has not been sent. Connect to the internet and "
        "press “Sync”; you can log out once it has been sent."
    ),
    "No se pudo cerrar la sesión: no hay conexión con el servidor. Inténtelo de nuevo cuando "
    "tenga conexión.": "The session could not be closed: the server cannot be reached. Try again when online.",
    "No puede salir todavía: {n} operaciones no se han enviado. Conéctese a internet y pulse "
    "«Sincronizar»; podrá salir cuando se hayan enviado.": (
        "You cannot log out yet: {n} operations have not been sent. Connect to the internet and "
        "press “Sync”; you can log out once they have been sent."
    ),
    "En turno · compartiendo ubicación y batería": "On shift · sharing location and battery",
    "En turno · sin compartir ubicación": "On shift · not sharing location",
    "Sincronizar": "Sync",
    "Compartir mi ubicación y batería con supervisión mientras dure el turno": (
        "Share my location and battery with supervision during the shift"
    ),
    "Iniciar turno": "Start shift",
    "En turno": "On shift",
    "Terminar turno": "End shift",
    "Ruta del": "Route of",
    "Sin conexión: se muestra la ruta guardada en el teléfono.": (
        "Offline: showing the route saved on the phone."
    ),
    "No tiene visitas planeadas para hoy.": "You have no visits planned for today.",
    "Ruta": "Route",
    "saldo": "balance",
    "Registrar llegada": "Record arrival",
    "Cuestionario": "Questionnaire",
    "Guardar resultado": "Save result",
    "No puedo hacer esta visita": "I cannot make this visit",
    "Calle cerrada, lluvia…": "Street closed, rain…",
    "Omitir y recalcular la ruta": "Skip and recompute the route",
    "Otra persona (tercero)": "Someone else (third party)",
    "Desempleo": "Unemployment",
    "Enfermedad": "Illness",
    "Otras deudas": "Other debts",
    "Olvido": "Forgot",
    "No está de acuerdo con el monto": "Disagrees with the amount",
    "Otro": "Other",
    "¿Quién atendió?": "Who answered?",
    "Motivo de no pago": "Reason for not paying",
    "¿Se entregó el aviso prejudicial?": "Was the pre-legal notice delivered?",
    "¿Domicilio verificado?": "Address verified?",
    "Teléfono nuevo (opcional)": "New phone (optional)",
    "Foto de la puerta (opcional)": "Photo of the door (optional)",
}
