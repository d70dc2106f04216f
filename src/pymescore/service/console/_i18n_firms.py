"""Texts of a firm's history, the case file and the SME owner's page, in Spanish and English (looked up by
``_i18n.text`` after the workbench's own). The owner's texts are plain words: no credit jargon, no internals."""

from __future__ import annotations

M: dict[str, tuple[str, str]] = {
    # firm history
    "firm_title": ("Historial de la empresa", "The firm's history"),
    "firm_history_short": ("historial", "history"),
    "firm_applications": ("Solicitudes", "Applications"),
    "firm_applications_n": ("solicitudes", "applications"),
    "firm_hint": (
        "Todas las evaluaciones de este RUC en su entidad (mesa y API), la más reciente primero.",
        "Every evaluation of this RUC at your institution (workbench and API), newest first.",
    ),
    "firm_source": ("Origen", "Source"),
    "firm_actions": ("Decisiones humanas y enlaces al propietario", "Human decisions and links to the owner"),
    "firm_no_actions": (
        "Ninguna persona ha actuado todavía sobre esta empresa.",
        "No person has acted on this firm yet.",
    ),
    "firm_of_application": ("solicitud del", "application of"),
    # case file
    "casefile": ("Expediente", "Case file"),
    "casefile_open": ("Expediente imprimible", "Printable case file"),
    "casefile_title": ("Expediente de crédito", "Credit case file"),
    "casefile_pdf": ("Descargar PDF", "Download PDF"),
    "casefile_print_hint": ("Para imprimir: Ctrl+P.", "To print: Ctrl+P."),
    "casefile_printed": ("Emitido el", "Issued on"),
    "casefile_case": ("caso", "case"),
    "casefile_model": ("Evaluación del modelo", "The model's evaluation"),
    "casefile_who": ("Quién", "Who"),
    "casefile_what": ("Qué", "What"),
    "casefile_why": ("Por qué", "Why"),
    "casefile_others": ("Otras solicitudes de la empresa", "The firm's other applications"),
    "casefile_no_others": ("Ninguna otra solicitud.", "No other application."),
    "casefile_sign_officer": ("Firma del analista", "Loan officer's signature"),
    "casefile_sign_committee": ("Firma del comité de créditos", "Credit committee's signature"),
    "back_to_case": ("Volver al caso", "Back to the case"),
    # the officer's side of the owner's link
    "owner_links_title": ("Enlace para el propietario", "Link for the owner"),
    "owner_links_hint": (
        "Un enlace que el propietario abre una sola vez para ver su puntaje, las razones y cómo mejorarlo; vence solo.",
        "A link the owner opens once to see their score, the reasons and how to improve it; it expires by itself.",
    ),
    "owner_link_validity": ("Validez del enlace", "Link valid for"),
    "owner_link_create": ("Crear enlace para el propietario", "Create a link for the owner"),
    "owner_link_title": ("Enlace para el propietario", "Link for the owner"),
    "owner_link_text": (
        "Entregue este enlace al propietario de la empresa (por correo o mensaje). Se muestra solo esta vez: "
        "no se guarda.",
        "Give this link to the firm's owner (by e-mail or message). It is shown only now: it is not kept.",
    ),
    "owner_link_label": ("Enlace", "Link"),
    "owner_link_once": ("funciona una sola vez", "works once"),
    "owner_link_made": ("Enlace para el propietario creado", "Link for the owner created"),
    "owner_link_used_on": ("abierto el", "opened on"),
    "owner_link_expired": ("venció sin abrirse", "expired unopened"),
    "err_hours": ("Elija una validez de la lista.", "Choose a validity from the list."),
    # the owner's page
    "owner_title": ("Su evaluación de crédito", "Your credit evaluation"),
    "owner_ready_title": ("Su evaluación está lista", "Your evaluation is ready"),
    "owner_ready_text": (
        "Este enlace muestra su resultado una sola vez. Ábralo cuando pueda leerlo con calma; si quiere, "
        "imprima o guarde la página.",
        "This link shows your result only once. Open it when you can read it calmly; you may print or save the page.",
    ),
    "owner_valid_until": ("Válido hasta", "Valid until"),
    "owner_open": ("Ver mi evaluación", "See my evaluation"),
    "owner_shown_title": ("Su evaluación de crédito", "Your credit evaluation"),
    "owner_for": ("Empresa con", "Business with"),
    "owner_band": ("Nivel", "Level"),
    "owner_band_A": ("Muy bueno (A es el mejor nivel)", "Very good (A is the best level)"),
    "owner_band_B": ("Bueno (de A, el mejor, a E)", "Good (from A, the best, to E)"),
    "owner_band_C": ("Intermedio (de A, el mejor, a E)", "Middling (from A, the best, to E)"),
    "owner_band_D": ("Bajo (de A, el mejor, a E)", "Low (from A, the best, to E)"),
    "owner_band_E": ("Muy bajo (E es el nivel más bajo)", "Very low (E is the lowest level)"),
    "owner_scale": (
        "Un puntaje más alto indica que su negocio, según sus datos, tiene más capacidad de pagar a tiempo.",
        "A higher score means that your business, from its data, is more able to pay on time.",
    ),
    "owner_reasons": ("Qué bajó su puntaje", "What lowered your score"),
    "owner_no_reasons": ("Nada bajó su puntaje de forma notable.", "Nothing lowered your score notably."),
    "owner_reasons_lang": (
        "Las razones se muestran en el idioma en que se hizo la evaluación.",
        "The reasons are shown in the language the evaluation was made in.",
    ),
    "owner_review": (
        "Puede pedir que una persona revise esta evaluación, o que le expliquen las razones por escrito, en la "
        "entidad donde hizo su solicitud. Indique el código de la evaluación:",
        "You may ask for a person to review this evaluation, or for the reasons in writing, at the institution "
        "where you applied. Give the evaluation's code:",
    ),
    "owner_once": (
        "Este enlace ya no volverá a abrirse: imprima o guarde esta página si quiere conservarla.",
        "This link will not open again: print or save this page if you want to keep it.",
    ),
    "owner_used_title": ("Este enlace ya se usó", "This link was already used"),
    "owner_used_text": (
        "El enlace muestra la evaluación una sola vez y ya se abrió. Si necesita verla otra vez, pida un enlace "
        "nuevo a su analista de créditos.",
        "The link shows the evaluation only once and it was already opened. If you need to see it again, ask your "
        "loan officer for a new link.",
    ),
    "owner_expired_title": ("Este enlace venció", "This link has expired"),
    "owner_expired_text": (
        "El enlace ya no es válido. Pida un enlace nuevo a su analista de créditos.",
        "The link is no longer valid. Ask your loan officer for a new link.",
    ),
    "owner_unknown_text": (
        "Este enlace no existe. Revise que lo haya copiado completo.",
        "This link does not exist. Check that you copied all of it.",
    ),
}
