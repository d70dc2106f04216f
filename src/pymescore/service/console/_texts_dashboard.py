"""The risk dashboard's texts and the queue's pager, Spanish and English (merged into :data:`._i18n.M`)."""

from __future__ import annotations

DASHBOARD: dict[str, tuple[str, str]] = {
    "queue_pages": ("Páginas de la bandeja", "Queue pages"),
    "of": ("de", "of"),
    "page_prev": ("← Anteriores", "← Previous"),
    "page_next": ("Siguientes →", "Next →"),
    "nav_dashboard": ("Panel de riesgo", "Risk dashboard"),
    "dash_title": ("Panel de riesgo", "Risk dashboard"),
    "dash_hint": (
        "Las decisiones de su institución (API y consola): volumen, resultados del modelo, puntajes y lo que "
        "decidieron las personas, por mes, región, sector y tamaño. Los meses son de Lima.",
        "Your institution's decisions (API and console): volume, the model's outcomes, scores and what people "
        "decided, by month, region, sector and size. Months are Lima's.",
    ),
    "dash_period": ("Periodo", "Period"),
    "dash_all": ("Todo", "All time"),
    "dash_show": ("Mostrar", "Show"),
    "dash_decisions": ("Decisiones", "Decisions"),
    "dash_rate_approve": ("Aprobación", "Approval"),
    "dash_rate_review": ("Revisión", "Review"),
    "dash_rate_decline": ("Rechazo", "Decline"),
    "dash_mean_score": ("Puntaje medio", "Mean score"),
    "dash_human": ("Decisiones de personas", "People's decisions"),
    "dash_high": ("Excepción al alza", "High-side override"),
    "dash_low": ("Excepción a la baja", "Low-side override"),
    "dash_agreement": ("Acuerdo con el modelo", "Agreement with the model"),
    "dash_override_def": (
        "Cada aprobación o rechazo de una persona cuenta (la misma definición que la vista del regulador): al alza, "
        "aprueba lo que el modelo rechazó; a la baja, rechaza lo que el modelo aprobó; acuerdo, decide lo mismo que "
        "el modelo (un caso en revisión nunca coincide).",
        "Every approval or decline by a person counts (the regulator view's definition): high-side, approving what "
        "the model declined; low-side, declining what the model approved; agreement, deciding as the model did (a "
        "case in review never agrees).",
    ),
    "dash_monitoring": ("Monitoreo del modelo (PSI)", "Model monitoring (PSI)"),
    "dash_mon_status": ("Estado", "Status"),
    "dash_psi": ("PSI del puntaje", "Score PSI"),
    "dash_mon_period": ("decisiones del", "decisions from"),
    "dash_mon_written": ("calculado el", "computed on"),
    "dash_mon_scope": (
        "todas las decisiones del modelo, no solo las de su institución",
        "all the model's decisions, not only your institution's",
    ),
    "dash_mon_flagged": ("Variables con cambio fuerte", "Shifted features"),
    "dash_mon_watched": ("en observación", "watched"),
    "dash_mon_none": ("Aún no hay un monitoreo.", "No monitoring run yet."),
    "dash_sim": ("Simulación de política", "Policy simulation"),
    "dash_sim_none": ("Aún no hay una simulación de política.", "No policy simulation yet."),
    "dash_sim_feed": ("Para compararla con una política propuesta:", "To compare it with a proposed policy:"),
    "dash_sim_headline": ("Aprobación actual → propuesta", "Approval current → proposed"),
    "dash_sim_bad": ("Malos esperados", "Expected bad rate"),
    "dash_sim_swaps": ("Entran / salen", "Swap-in / swap-out"),
    "dash_sim_open": ("Ver el informe completo", "Open the full report"),
    "dash_mon_unreadable": (
        "El archivo del último monitoreo no se pudo leer.",
        "The latest monitoring file could not be read.",
    ),
    "dash_mon_feed": (
        "El monitoreo lo escribe, por ejemplo cada día, el comando:",
        "Monitoring is written, for instance daily, by:",
    ),
    "mon_stable": ("estable", "stable"),
    "mon_watch": ("en observación", "watch"),
    "mon_act": ("requiere acción", "needs action"),
    "mon_unknown": ("desconocido (alerta)", "unknown (an alert)"),
    "mon_insufficient": ("datos insuficientes (alerta)", "insufficient data (an alert)"),
    "dash_over_time": ("Decisiones por mes", "Decisions per month"),
    "dash_scores": ("Distribución del puntaje", "Score distribution"),
    "dash_overrides": ("Excepciones por mes", "Overrides per month"),
    "dash_no_human": ("Aún no hay decisiones de personas en el periodo.", "No people's decisions in the period yet."),
    "dash_empty": ("No hay decisiones en el periodo.", "No decisions in the period."),
    "dash_by_month": ("Por mes", "By month"),
    "dash_by_region": ("Por región", "By region"),
    "dash_by_sector": ("Por sector (CIIU)", "By sector (ISIC)"),
    "dash_by_size": ("Por tamaño de empresa", "By firm size"),
    "dash_col_month": ("Mes", "Month"),
    "dash_col_region": ("Departamento", "Department"),
    "dash_col_sector": ("Sector", "Sector"),
    "dash_col_size": ("Tamaño", "Size"),
}
