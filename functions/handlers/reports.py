"""Staff reports: response-time figures and the conversations CSV (staff auth, like every staff route)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice import Response

from functions.http import guarded, json_response, require_staff


@guarded
def response_times(request: Any) -> Response:
    from functions import reports

    require_staff(request.headers, request.context)
    params = request.query_params or {}
    now, zone = datetime.now(UTC), reports.timezone()
    span = reports.period(params, now, zone=zone)
    return json_response(200, reports.response_times(span, reports.group_by(params), now, zone))


@guarded
def conversations_csv(request: Any) -> Response:
    """Pages of at most ``reports.MAX_CSV_ROWS`` rows: a cut page says ``X-Heed-Truncated: true`` and
    ``X-Heed-Next: <cursor>`` (pass it back as ``next``), so no response nears Lambda's 6 MB limit."""
    from functions import reports

    require_staff(request.headers, request.context)
    params = request.query_params or {}
    zone = reports.timezone()
    span = reports.period(params, datetime.now(UTC), max_days=reports.MAX_CSV_DAYS, zone=zone)
    page = reports.conversations_csv(span, zone, params.get("next") or None)
    name = f"heed-conversations-{span.start.isoformat()}-{span.end.isoformat()}.csv"
    headers = {"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}"',
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
               "X-Heed-Rows": str(page.rows), "X-Heed-Truncated": "true" if page.next else "false"}
    if page.next:
        headers["X-Heed-Next"] = page.next
    return Response(body=page.body, status_code=200, headers=headers)
