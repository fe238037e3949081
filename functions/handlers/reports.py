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
    now = datetime.now(UTC)
    span = reports.period(params, now)
    return json_response(200, reports.response_times(span, reports.group_by(params), now))


@guarded
def conversations_csv(request: Any) -> Response:
    from functions import reports

    require_staff(request.headers, request.context)
    span = reports.period(request.query_params or {}, datetime.now(UTC), max_days=reports.MAX_CSV_DAYS)
    name = f"heed-conversations-{span.start.isoformat()}-{span.end.isoformat()}.csv"
    return Response(body=reports.conversations_csv(span), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
