"""The workbench's texts in Spanish (default) and English, and the catalogues of coded reasons.

Templates call ``t("key")``; a key missing from a language falls back to Spanish, a key missing from both
is shown as itself (a test reads every template and fails on such a key).
"""

from __future__ import annotations

LANGS = ("es", "en")

#: coded reasons of a human action (catalogue): code -> (Spanish, English)
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "D01": ("Capacidad de pago insuficiente", "Insufficient repayment capacity"),
    "D02": ("Historial de pagos con atrasos", "Payment history with arrears"),
    "D03": ("Sobreendeudamiento en el sistema financiero", "Over-indebtedness in the financial system"),
    "D04": ("Información incompleta o inconsistente", "Incomplete or inconsistent information"),
    "D05": ("Calificación SBS desfavorable", "Unfavourable SBS rating"),
    "D06": ("Actividad o zona fuera del apetito de riesgo", "Activity or area outside the risk appetite"),
    "D07": ("Desistimiento del cliente", "Withdrawn by the applicant"),
}
APPROVE_REASONS: dict[str, tuple[str, str]] = {
    "A01": ("Conforme con la evaluación del modelo", "In line with the model's evaluation"),
    "A02": ("Garantía o aval adicional", "Additional collateral or guarantor"),
    "A03": ("Conocimiento directo del negocio (visita)", "Direct knowledge of the business (visit)"),
    "A04": ("Ingresos no reflejados en los datos", "Income not reflected in the data"),
    "A05": ("Monto o plazo ajustado a la capacidad", "Amount or term fitted to the capacity"),
}
INFO_REASONS: dict[str, tuple[str, str]] = {
    "I01": ("Faltan estados financieros recientes", "Recent financial statements are missing"),
    "I02": ("Faltan sustentos de ingresos", "Proof of income is missing"),
    "I03": ("Verificar deudas en otras entidades", "Check debts with other lenders"),
}
CONFIRM_REASONS: dict[str, tuple[str, str]] = {
    "C01": ("Conforme (comité de créditos)", "Agreed (credit committee)"),
    "C02": ("Rechazado por el comité: se mantiene la decisión del modelo", "Rejected by the committee: the model's "
            "decision stands"),
}  # fmt: skip
REASONS = {**DECLINE_REASONS, **APPROVE_REASONS, **INFO_REASONS, **CONFIRM_REASONS}

M: dict[str, tuple[str, str]] = {
    "app_name": ("Mesa de créditos PYME", "SME lending workbench"),
    "skip": ("Saltar al contenido", "Skip to content"),
    "nav_cases": ("Solicitudes", "Applications"),
    "nav_new": ("Nueva solicitud", "New application"),
    "nav_queue": ("Bandeja", "Review queue"),
    "logout": ("Cerrar sesión", "Log out"),
    "lang_switch": ("English", "Español"),
    "role_officer": ("Analista de créditos", "Loan officer"),
    "role_approver": ("Comité de créditos", "Credit committee"),
    "role_reviewer": ("Riesgos / revisor", "Risk reviewer"),
    "role_admin": ("Administrador", "Administrator"),
    # login
    "login_title": ("Iniciar sesión", "Log in"),
    "username": ("Usuario", "Username"),
    "password": ("Contraseña", "Password"),
    "login_submit": ("Ingresar", "Log in"),
    "login_failed": (
        "Usuario o contraseña no válidos, o cuenta bloqueada. Tras 5 intentos fallidos la cuenta se "
        "bloquea 15 minutos.",
        "Invalid username or password, or the account is locked. After 5 failed "
        "attempts the account is locked for 15 minutes.",
    ),
    "logged_out": ("Sesión cerrada.", "You have logged out."),
    # errors
    "err_404": ("No encontrado", "Not found"),
    "err_404_text": (
        "No existe o no pertenece a su entidad.",
        "It does not exist or does not belong to your institution.",
    ),
    "err_403": ("No permitido", "Forbidden"),
    "err_csrf": (
        "El formulario caducó o no vino de esta página (falta el token CSRF). Vuelva a cargar la página e "
        "inténtelo otra vez.",
        "The form expired or did not come from this page (CSRF token missing). Reload the page and try again.",
    ),
    "err_role": ("Su rol no permite esta acción.", "Your role does not allow this action."),
    "back_home": ("Volver al inicio", "Back to the start"),
    # case list
    "cases_title": ("Solicitudes evaluadas", "Scored applications"),
    "no_cases": ("Aún no hay solicitudes.", "No applications yet."),
    "col_date": ("Fecha", "Date"),
    "col_ruc": ("RUC", "RUC"),
    "col_score": ("Puntaje", "Score"),
    "col_band": ("Banda", "Band"),
    "col_decision": ("Decisión del modelo", "Model decision"),
    "col_amount": ("Monto solicitado", "Requested amount"),
    "col_status": ("Estado", "Status"),
    "col_region": ("Región", "Region"),
    "col_sector": ("Sector", "Sector"),
    "col_age": ("Antigüedad (días hábiles)", "Age (working days)"),
    "col_days_left": ("Días hábiles restantes", "Working days left"),
    "open": ("Abrir", "Open"),
    "decision_approve": ("Aprobar", "Approve"),
    "decision_review": ("Revisión", "Review"),
    "decision_decline": ("Rechazar", "Decline"),
    "status_model": ("Según el modelo", "As the model decided"),
    "status_pending_review": ("Por revisar", "To review"),
    "status_info": ("Información solicitada", "Information requested"),
    "status_pending_approver": ("Espera confirmación del comité", "Waiting for the committee"),
    "status_approved": ("Aprobada por una persona", "Approved by a person"),
    "status_declined": ("Rechazada por una persona", "Declined by a person"),
}


def text(key: str, lang: str) -> str:
    pair = M.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def reason_text(code: str, lang: str) -> str:
    pair = REASONS.get(code)
    return code if pair is None else f"{code} · {pair[1] if lang == 'en' else pair[0]}"
