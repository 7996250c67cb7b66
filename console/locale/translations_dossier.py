"""English texts of the legal dossier (outreach/legal_dossier.py) and of the code words
(cobrador/ground/code_words.py) no console source marks. Neither is under console/, so
the extraction does not see them; tests/unit/ground/test_code_words.py checks each has
English."""

DOSSIER_EN = {
    "Expediente para cobranza judicial: cuenta {ref}": "Dossier for legal collection: account {ref}",
    "Generado {fecha} · versión {version} · horas en la zona del deudor ({zona})": (
        "Generated {fecha} · version {version} · times in the debtor's zone ({zona})"
    ),
    "Pasada a etapa legal por {quien} el {fecha} (antes: {etapa}). Motivo: {motivo}": (
        "Moved to the legal stage by {quien} on {fecha} (before: {etapa}). Reason: {motivo}"
    ),
    "permitida": "allowed",
    "bloqueada": "refused",
    "perfil {version}": "profile {version}",
    "Recibió {quien}, {fecha}": "Received by {quien}, {fecha}",
    "Archivo de pagos importado": "Imported payments file",
    "País / región": "Country / region",
    "Vencimiento": "Due date",
    "Mensaje": "Message",
    "Grabación (SHA-256)": "Recording (SHA-256)",
    "Mensajes no enviados y por qué": "Messages not sent and why",
    "Promesas y su resultado": "Promises and their outcome",
    "Creada": "Created",
    "Fecha comprometida": "Promised date",
    "Pagado": "Paid",
    "Resuelta": "Resolved",
    "Origen": "Source",
    "Notificaciones formales y acuses": "Formal notices and receipts",
    "Guía": "Tracking number",
    "Acuse de recibo": "Acknowledgement of receipt",
    "Carta (SHA-256)": "Letter (SHA-256)",
    "Pendiente": "Open",
    "Cumplida": "Kept",
    "Incumplida": "Broken",
    "Otra etapa": "Other stage",
    "Otro canal": "Other channel",
    "Otro remitente": "Other sender",
    "Disputa la deuda": "Disputes the debt",
    "Recado con otra persona": "Message left with another person",
    "El deudor no vive aquí": "The debtor does not live here",
}
