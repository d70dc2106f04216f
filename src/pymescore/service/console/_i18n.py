"""The workbench's texts in Spanish (default) and English, and the catalogues of coded reasons.

Templates call ``t("key")``; a key missing from a language falls back to Spanish, a key missing from both
is shown as itself (a test reads every template and fails on such a key).
"""

from __future__ import annotations

from pymescore.service.console._i18n_firms import M as FIRMS
from pymescore.service.console._texts_dashboard import DASHBOARD

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
    **DASHBOARD,
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
    "err_409": ("Ya no se puede", "No longer possible"),
    "err_422": ("Datos incompletos", "Incomplete data"),
    "err_closed": (
        "El caso cambió mientras tanto (ya tiene una decisión o una confirmación pendiente). Vuelva a abrirlo.",
        "The case changed meanwhile (it has a decision or a pending confirmation). Open it again.",
    ),
    "err_action": ("Elija una acción y un motivo del catálogo.", "Choose an action and a reason from the catalogue."),
    "err_amount": (
        "Para aprobar, indique un monto mayor que cero y un plazo de 1 a 120 meses.",
        "To approve, give an amount above zero and a term of 1 to 120 months.",
    ),
    "err_note": (
        "Decidir en contra del modelo exige una justificación escrita.",
        "Deciding against the model needs a written justification.",
    ),
    "err_own": (
        "Nadie confirma su propia acción: debe hacerlo otro miembro del comité.",
        "Nobody confirms their own action: another committee member must.",
    ),
    "err_limit": ("El monto supera su límite de aprobación.", "The amount exceeds your approval limit."),
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
    # new application
    "problems_title": ("Problemas encontrados", "Problems found"),
    "problems_text": (
        "No se evaluó nada. Corrija cada problema y vuelva a enviar.",
        "Nothing was scored. Fix every problem and send again.",
    ),
    "field": ("Campo", "Field"),
    "sheet": ("Hoja", "Sheet"),
    "row": ("fila", "row"),
    "column": ("columna", "column"),
    "expected": ("se esperaba", "expected"),
    "got": ("llegó", "got"),
    "application": ("Solicitud", "Application"),
    "ruc_hint": ("11 dígitos, con su dígito verificador.", "11 digits, with its check digit."),
    "amount": ("Monto solicitado", "Requested amount"),
    "currency": ("Moneda", "Currency"),
    "term": ("Plazo (meses)", "Term (months)"),
    "as_of": ("Fecha de evaluación", "Evaluation date"),
    "as_of_hint": (
        "Opcional; por defecto, hoy. Solo se leen datos anteriores a esta fecha.",
        "Optional; today by default. Only data dated before it is read.",
    ),
    "histories": ("Historiales de la empresa", "The firm's histories"),
    "file": ("Libro de Excel (.xlsx) o archivos CSV", "Excel workbook (.xlsx) or CSV files"),
    "file_hint": (
        "Una hoja (o un CSV) por tabla: firms, monthly_cashflows, financial_statements, payments, "
        "bureau_ratings; la primera fila con los nombres de columna (en inglés o castellano). Sin archivo, "
        "se usan los datos del lago si la empresa está en él. Descargue la",
        "One sheet (or CSV) per table: "
        "firms, monthly_cashflows, financial_statements, payments, bureau_ratings; the first row holds the "
        "column names (English or Spanish). Without a file, the lake's data are used when the firm is "
        "there. Download the",
    ),
    "template": ("plantilla", "template"),
    "ai_notice": (
        "Esta evaluación la calcula un sistema de inteligencia artificial (modelo de riesgo); una persona "
        "puede revisarla y decidir (DS 115-2025-PCM).",
        "This evaluation is computed by an artificial "
        "intelligence system (a risk model); a person can review it and decide (DS 115-2025-PCM).",
    ),
    "score_it": ("Evaluar", "Score"),
    # result
    "result_title": ("Resultado", "Result"),
    "evaluated_on": ("Evaluada al", "Evaluated as of"),
    "scored_at": ("calculada el", "scored on"),
    "by": ("por", "by"),
    "source_workbook": ("libro de Excel", "Excel workbook"),
    "source_csv": ("archivos CSV", "CSV files"),
    "source_lake": ("datos del lago", "lake data"),
    "source_api": ("recibida por la API", "received through the API"),
    "pd": ("Probabilidad de incumplimiento (12 meses)", "Probability of default (12 months)"),
    "suggested_vs_requested": ("Monto sugerido", "Suggested amount"),
    "requested": ("Solicitado:", "Requested:"),
    "months": ("meses", "months"),
    "reasons": ("Razones principales", "Main reasons"),
    "points": ("puntos", "points"),
    "rules": ("Reglas de política aplicadas", "Policy rules applied"),
    "hints": ("Cómo mejorar el puntaje", "How to improve the score"),
    "no_hints": ("Sin sugerencias.", "No suggestions."),
    "cashflow_title": ("Ingresos y gastos, últimos 24 meses", "Income and expenses, last 24 months"),
    "income": ("Ingresos", "Income"),
    "expenses": ("Gastos", "Expenses"),
    "month": ("Mes", "Month"),
    "as_table": ("Ver como tabla", "Show as a table"),
    "no_histories": (
        "Sin historiales guardados en la mesa (decisión recibida por la API).",
        "No histories kept by the workbench (a decision received through the API).",
    ),
    "no_cashflows": (
        "Sin flujos de caja en los 24 meses antes de la fecha de evaluación.",
        "No cash flows in the 24 months before the evaluation date.",
    ),
    "payments_title": ("Historial de pagos", "Payment history"),
    "paid": ("A tiempo", "On time"),
    "late": ("Con atraso", "Late"),
    "unpaid": ("Impaga", "Unpaid"),
    "no_payments": ("Sin cuotas en los últimos 24 meses.", "No instalments in the last 24 months."),
    "versions": ("Versiones", "Versions"),
    "regulatory_title": (
        "Clasificación y provisiones SBS (Res. SBS 11356-2008)",
        "SBS classification and provisions (Res. SBS 11356-2008)",
    ),
    "credit_type": ("Tipo de crédito SBS", "SBS credit type"),
    "sbs_category": ("Categoría al otorgarse", "Category at origination"),
    "guarantee": ("Garantía", "Guarantee"),
    "provision": ("Provisión requerida", "Provision required"),
    "lgd": ("Pérdida dado el incumplimiento (LGD)", "Loss given default (LGD)"),
    "expected_loss": ("Pérdida esperada (PD × LGD × exposición)", "Expected loss (PD × LGD × exposure)"),
    "exposure": ("Exposición", "Exposure"),
    "regulation_version": ("Versión de las reglas", "Rules version"),
    "model": ("Modelo", "Model"),
    "policy": ("política", "policy"),
    # human decisions
    "human_title": ("Decisión humana", "Human decision"),
    "act_approve": ("Aprobar", "Approve"),
    "act_decline": ("Rechazar", "Decline"),
    "act_info": ("Pedir más información", "Ask for more information"),
    "act_confirm": ("Confirmó", "Confirmed"),
    "act_reject": ("No confirmó", "Did not confirm"),
    "model_said": ("el modelo:", "the model:"),
    "needs_limit": ("supera el límite: requiere comité", "above the limit: needs the committee"),
    "needs_override": ("contra el modelo: requiere comité", "against the model: needs the committee"),
    "needs_limit+override": (
        "supera el límite y va contra el modelo: requiere comité",
        "above the limit and against the model: needs the committee",
    ),
    "no_actions": (
        "Ninguna persona ha decidido todavía; vale la decisión del modelo.",
        "No person has decided yet; the model's decision stands.",
    ),
    "pending_text": (
        "Pendiente: otra persona del comité de créditos debe confirmar esta acción",
        "Pending: another member of the credit committee must confirm this action",
    ),
    "committee": ("Comité de créditos", "Credit committee"),
    "confirm": ("Confirmar", "Confirm"),
    "reject": ("No confirmar", "Do not confirm"),
    "decide": ("Decidir", "Decide"),
    "amount_to_approve": ("Monto a aprobar", "Amount to approve"),
    "limit_hint": ("Su límite de aprobación:", "Your approval limit:"),
    "no_limit": (
        "sin delegación (toda aprobación la confirma el comité)",
        "no delegation (the committee confirms every approval)",
    ),
    "reason_code": ("Motivo (catálogo)", "Reason (catalogue)"),
    "note": ("Justificación", "Justification"),
    "note_hint": ("Obligatoria cuando decide en contra del modelo.", "Required when deciding against the model."),
    "record": ("Registrar decisión", "Record the decision"),
    # queue
    "queue_title": ("Bandeja de revisión", "Review queue"),
    "requests_title": ("Pedidos de los solicitantes", "Applicants' requests"),
    "requests_hint": (
        "Razones de una denegación (Ley 32294: respuesta en 7 días hábiles) y revisiones humanas pedidas; el plazo "
        "más cercano primero.",
        "Reasons for a denial (Ley 32294: answer within 7 working days) and human reviews asked for; nearest "
        "deadline first.",
    ),
    "requests_empty": ("No hay pedidos abiertos.", "No open requests."),
    "req_reason": ("Razones de la denegación", "Reasons for the denial"),
    "req_human_review": ("Revisión humana", "Human review"),
    "col_requested": ("Pedido el", "Asked on"),
    "col_channel": ("Canal", "Channel"),
    "col_deadline": ("Plazo", "Deadline"),
    "letter": ("Carta de respuesta", "Answer letter"),
    "queue_empty": ("No hay casos por revisar.", "No cases to review."),
    "filter": ("Filtrar", "Filter"),
    "all": ("Todas", "All"),
    "min_amount": ("Monto desde", "Amount from"),
    "max_amount": ("Monto hasta", "Amount up to"),
    "min_age": ("Antigüedad mínima (días hábiles)", "Minimum age (working days)"),
    "queue_hint": (
        "Decisiones en revisión y acciones que esperan al comité, las más antiguas primero. Plazo interno "
        "de revisión: 7 días hábiles.",
        "Decisions in review and actions waiting for the committee, oldest "
        "first. Internal review deadline: 7 working days.",
    ),
    "status_model": ("Según el modelo", "As the model decided"),
    "status_pending_review": ("Por revisar", "To review"),
    "status_info": ("Información solicitada", "Information requested"),
    "status_pending_approver": ("Espera confirmación del comité", "Waiting for the committee"),
    "status_approved": ("Aprobada por una persona", "Approved by a person"),
    "status_declined": ("Rechazada por una persona", "Declined by a person"),
}


def text(key: str, lang: str) -> str:
    pair = M.get(key) or FIRMS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def reason_text(code: str, lang: str) -> str:
    pair = REASONS.get(code)
    return code if pair is None else f"{code} · {pair[1] if lang == 'en' else pair[0]}"
