"""Reads behind the staff lead pages: keyset pagination, capped counts, pipeline columns.

Speed at a million leads decides the design:
- pages are keyset pages (`WHERE (sort, id) < (last row)`), never deep OFFSET scans;
- the total is PostgreSQL's planner estimate (one EXPLAIN), labelled as such; an exact count
  rides on the rows query (a scalar subquery over `LIMIT COUNT_CAP + 1`) only when the
  estimate says it is cheap, else the page asks for it in a second, lazy request
  (crm:lead-count, `lead_total`), which counts exactly up to COUNT_CAP. The htmx table
  fragment skips the total altogether (one query) and always asks for it lazily.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm import sql
from crm.memo import remembered
from crm.models import Business, ContactStatus, LeadEvent
from crm.tallies import tally_counts

PAGE_SIZE = 50
COUNT_CAP = 10_000
# Count exactly only when the planner expects at most this many times COUNT_CAP rows.
ESTIMATE_TRUST = 2
# The page's own query counts up to this many index entries (8,000 cost 1.5–2 ms at a
# million leads, more than the rows themselves, but less than the lazy count request the
# page would otherwise make: session, user, filters and plan again) …
INDEX_COUNT_MAX = COUNT_CAP
# …or, when the count must visit the table (no index-only scan), this many rows.
HEAP_COUNT_MAX = 1_000

# sort key in the URL → (model field, nullable). The URL says `score` or `-score`.
SORTS: dict[str, tuple[str, bool]] = {
    "name": ("name", False),
    "city": ("city_key", False),
    "score": ("qualification_score", False),
    "rating": ("rating", True),
    "status": ("contact_status", False),
    "contacted": ("last_contacted_at", True),
    "created": ("created_at", False),
}
DEFAULT_SORT = "-created"
# Sort keys that are expressions, annotated on the page query (index biz_city_sort).
SORT_EXPRESSIONS = {"city_key": Upper("city")}

# Sorts under which the page reads one branch per value of a multi-value filter (given by
# the caller, e.g. LeadFilter.qs_per_value) and merges them: each branch walks its own
# `(column, created, id)` index, where one scan over the created index filtering on the
# values walks past every lead of the other values first (newest leads are mostly
# `pending`): 20 ms → 0.2 ms at a million leads.
PER_VALUE_SORTS = {"created_at", "last_contacted_at"}

# A walk down an index in the page's order that filters the leads it reads finds 51 of them
# quickly when many match, and reads the whole index when few do: "opened leads without an
# email, best rated first" read all million leads (2.7 s), "texted roofers by name" 44,000
# (140 ms). PostgreSQL's estimate of the matches is good; its cost of a walk is not (each
# lead it reads is a random page of a 1.3 GB table). When it means to walk for at most
# WALK_GUARD matches, the page reads the matches first (crm.sql.lead_rows_filter_first) and sorts
# them: about as many rows as a walk at ~7,000 matches (√(51 × 1M)), and far fewer below.
WALK_GUARD = 7_000
# The planner's answers (its estimate of a filter's matches, whether a page would walk) are
# remembered per query this long: an EXPLAIN is a round trip and a planning (0.3–0.5 ms) on
# every page, and the statistics behind them change far more slowly.
PLAN_TTL = 60

# The columns one table row needs; values() dicts render faster than model instances.
ROW_FIELDS = (
    "id",
    "name",
    "city",
    "state",
    "category",
    "phone",
    "email",
    "qualification_score",
    "rating",
    "review_count",
    "contact_status",
    "website_status",
    "last_contacted_at",
    "created_at",
    "do_not_contact_at",
    "owner__username",
)


class BadCursor(ValueError):
    """A pagination cursor that was not produced by this module."""


def sort_parse(value: str | None) -> tuple[str, str, bool, bool]:
    """`-score` → (key "score", field, descending, nullable). Unknown keys fall back to the
    default sort (a stale bookmark should still open)."""
    value = (value or DEFAULT_SORT).strip()
    desc = value.startswith("-")
    key = value.lstrip("-")
    if key not in SORTS:
        return sort_parse(DEFAULT_SORT)
    field_name, nullable = SORTS[key]
    return key, field_name, desc, nullable


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def cursor_encode(value: Any, pk: int) -> str:
    raw = json.dumps([_encode_value(value), pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str, field_name: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        pk = int(pk)
        if value is None:
            return None, pk
        if field_name.endswith("_at"):
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValueError(value)
            return parsed, pk
        if field_name == "rating":
            return Decimal(str(value)), pk
        if field_name == "qualification_score":
            return int(value), pk
        return str(value), pk
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise BadCursor("That page link is not valid any more; start from the first page.") from exc


def _beyond(field_name: str, value: Any, pk: int, *, lower: bool, nullable: bool) -> Q:
    """Rows strictly past (value, pk) toward lower values (`lower`) or higher ones, where
    NULL counts as the lowest value and the id breaks ties in the same direction."""
    op = "lt" if lower else "gt"
    if value is None:
        if lower:
            return Q(**{f"{field_name}__isnull": True, f"pk__{op}": pk})
        return Q(**{f"{field_name}__isnull": False}) | Q(
            **{f"{field_name}__isnull": True, f"pk__{op}": pk}
        )
    q = Q(**{f"{field_name}__{op}": value}) | Q(**{field_name: value, f"pk__{op}": pk})
    if nullable and lower:
        return q | Q(**{f"{field_name}__isnull": True})
    # The same rows, plus a plain range bound PostgreSQL can start the index scan from:
    # without it the OR above is only a filter, and page 2,000 walks 100,000 index entries.
    return q & Q(**{f"{field_name}__{op}e": value})


def _order(field_name: str, desc: bool, nullable: bool) -> list:
    """NULL is the lowest value: last when descending, first when ascending, so one
    `(field DESC NULLS LAST, id DESC)` index serves both directions."""
    if nullable:
        expr = F(field_name).desc(nulls_last=True) if desc else F(field_name).asc(nulls_first=True)
    else:
        expr = F(field_name).desc() if desc else F(field_name).asc()
    return [expr, F("pk").desc() if desc else F("pk").asc()]


@dataclass
class LeadPage:
    rows: list[dict[str, Any]]
    sort: str
    next_cursor: str | None = None
    prev_cursor: str | None = None
    total: int | None = None
    total_is_estimate: bool = False
    total_capped: bool = False
    # The exact total is worth a lazy crm:lead-count request (the total shown is an
    # estimate, or missing).
    count_later: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_label(self) -> str:
        if self.total is None:
            return ""
        if self.total_is_estimate:
            return f"about {self.total:,}"
        if self.total_capped:
            return f"more than {COUNT_CAP:,}"
        return f"{self.total:,}"


def _capped(qs: QuerySet) -> QuerySet:
    return qs.order_by().values("pk")[: COUNT_CAP + 1]


def lead_count_plan(qs: QuerySet) -> tuple[int, bool] | None:
    """(the planner's row estimate, whether counting would read only indexes) for a
    filtered queryset on PostgreSQL; None elsewhere. One EXPLAIN, no rows read, remembered
    for PLAN_TTL seconds."""
    if connection.vendor != "postgresql":
        return None
    ids = qs.order_by().values("pk")

    def estimate() -> tuple[int, bool]:
        root = _plan(ids)
        return int(root["Plan Rows"]), _index_only(root)

    return remembered(_plan_key("count", ids), estimate, PLAN_TTL)


def _plan(qs: QuerySet) -> dict:
    """The root node of PostgreSQL's plan for `qs` (EXPLAIN, nothing run)."""
    found = json.loads(qs.explain(format="json"))
    return (found[0] if isinstance(found, list) else found)["Plan"]


def _plan_key(kind: str, qs: QuerySet) -> str:
    sql, params = qs.query.sql_with_params()
    return f"crm:plan:{kind}:" + hashlib.sha256(repr((sql, params)).encode()).hexdigest()


def _index_only(node: dict) -> bool:
    """True when every table the plan reads is read through an index-only scan."""
    if node.get("Node Type", "").endswith("Scan") and node["Node Type"] != "Index Only Scan":
        return False
    return all(_index_only(child) for child in node.get("Plans", []))


def lead_count_estimate(qs: QuerySet) -> int | None:
    """The planner's row estimate for a filtered queryset (PostgreSQL), or None."""
    found = lead_count_plan(qs)
    return found[0] if found else None


def _risky_walk(page_qs: QuerySet) -> bool:
    """Whether PostgreSQL means to read the page by walking an index of every lead in the
    page's order, filtering the leads it reads, while expecting at most WALK_GUARD of them
    to match. One EXPLAIN, remembered for PLAN_TTL seconds."""
    return remembered(_plan_key("page", page_qs), lambda: _walks_for_few(_plan(page_qs)), PLAN_TTL)


def _walks_for_few(node: dict) -> bool:
    if node.get("Parent Relationship") in ("InitPlan", "SubPlan"):
        return False  # the total's own count
    if (
        node.get("Node Type") in ("Index Scan", "Index Only Scan")
        and node.get("Relation Name") == Business._meta.db_table
    ):
        # Only a walk over all leads: one bounded by an index condition (a city, a status)
        # reads at most that part of the table.
        walks_all = "Filter" in node and "Index Cond" not in node
        return walks_all and node["Plan Rows"] <= WALK_GUARD
    if node.get("Node Type") == "Sort":
        return False  # it reads the matches first already
    return any(_walks_for_few(child) for child in node.get("Plans", []))


def _count_inline(found: tuple[int, bool] | None) -> bool:
    """Count on the page's own query only when it is cheap: always on SQLite (small
    databases); on PostgreSQL when the estimate is small, smaller still when the count
    must visit the table (thousands of rows scattered over the heap cost 70 ms at a million
    leads). The other totals arrive through the lazy crm:lead-count request."""
    if found is None:
        return True
    guess, index_only = found
    return guess <= (INDEX_COUNT_MAX if index_only else HEAP_COUNT_MAX)


def lead_page(
    qs: QuerySet,
    *,
    per_value: Sequence[QuerySet] | None = None,
    sort: str | None = None,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
    with_count: bool = True,
) -> LeadPage:
    """One keyset page of `qs` as row dicts (ROW_FIELDS), with a total when `with_count`:
    the capped exact count when it is cheap (it rides on the row query), else on PostgreSQL
    the planner's estimate, with `count_later` set when `lead_total` should be asked for the
    exact figure.

    `per_value`: `qs` split into querysets whose union is `qs`, one per value of a
    multi-value filter (LeadFilter.qs_per_value); under PER_VALUE_SORTS on PostgreSQL the
    rows are read branch by branch and merged. `after` moves forward from a cursor,
    `before` moves back; raises BadCursor for junk."""
    key, field_name, desc, nullable = sort_parse(sort)
    sort_value = f"-{key}" if desc else key
    if qs.query.is_empty():
        return LeadPage(rows=[], sort=sort_value, total=0 if with_count else None)
    backwards = bool(before) and not after
    # The planner's estimate of the matches (None on SQLite) decides the total and whether
    # the page could be a risky walk (below).
    found = lead_count_plan(qs)
    guess = found[0] if found else None
    inline_count = with_count and _count_inline(found)
    cursor = None
    if after or before:
        value, pk = cursor_decode(after or before, field_name)
        # Backwards: walk the reversed order from the cursor, then flip the rows back.
        cursor = _beyond(field_name, value, pk, lower=desc != backwards, nullable=nullable)
    order = _order(field_name, not desc if backwards else desc, nullable)
    fields = list(ROW_FIELDS)
    if field_name not in fields:
        fields.append(field_name)
    split = bool(
        per_value
        and len(per_value) > 1
        and field_name in PER_VALUE_SORTS
        and connection.vendor == "postgresql"  # small SQLite databases need none of it
    )
    annotations = {}
    if field_name in SORT_EXPRESSIONS:
        annotations[field_name] = SORT_EXPRESSIONS[field_name]
    if inline_count and not split:  # a split page counts once, on its own
        annotations["_total"] = sql.lead_total_expression(_capped(qs))
        fields.append("_total")

    def matching(part: QuerySet) -> QuerySet:
        if annotations:
            part = part.annotate(**annotations)
        if cursor is not None:
            part = part.filter(cursor)
        return part.values(*fields)

    if split:
        first, *others = (matching(part).order_by(*order)[: size + 1] for part in per_value)
        page_qs = first.union(*others, all=True).order_by(*order)[: size + 1]
    else:
        page_qs = matching(qs).order_by(*order)[: size + 1]
    # Only few matches make a walk risky; a split page walks one index per value, each
    # holding only its value's leads.
    risky = guess is not None and guess <= WALK_GUARD and not split and _risky_walk(page_qs)
    if risky:
        page_desc = not desc if backwards else desc
        rows = sql.lead_rows_filter_first(
            *matching(qs).order_by().query.sql_with_params(),
            order=[(field_name, page_desc, nullable), ("id", page_desc, False)],
            limit=size + 1,
        )
    else:
        rows = list(page_qs)
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    total = None
    if inline_count and split:
        if rows and (more or after or before):  # else the page is its own total (below)
            total = _capped(qs).count()
    elif inline_count:
        total = rows[0]["_total"] if rows else (None if (after or before) else 0)
    page = LeadPage(rows=rows, sort=sort_value, total=total)
    if rows:
        first, last = rows[0], rows[-1]
        has_next = more if not backwards else True
        has_prev = (bool(after) or (backwards and more)) if not backwards else more
        if has_next:
            page.next_cursor = cursor_encode(last[field_name], last["id"])
        if has_prev:
            page.prev_cursor = cursor_encode(first[field_name], first["id"])
    if not (after or before or more):
        page.total = len(rows)  # the whole result fits on this page: nothing left to count
    elif not with_count:
        page.count_later = bool(rows)
    elif not inline_count:
        # The estimate now; the exact count later, when it is worth running at all.
        page.count_later = guess <= COUNT_CAP * ESTIMATE_TRUST
        page.total, page.total_is_estimate = guess, True
        page.total_capped = not page.count_later
        if page.total_capped:
            page.total = max(guess, COUNT_CAP + 1)
    elif total is None:  # an empty page past a cursor: nothing was counted
        page.count_later = True
    elif total > COUNT_CAP:
        page.total_capped = True
        if guess is not None:  # the planner expected a small count and was wrong
            page.total, page.total_is_estimate = max(guess, COUNT_CAP + 1), True
    return page


def lead_total(qs: QuerySet) -> tuple[int, bool, bool]:
    """(n, is_estimate, capped) for a filtered queryset. On PostgreSQL the planner's
    estimate comes first (one EXPLAIN, no rows read); an exact count runs only when the
    estimate says it is small (≤ ESTIMATE_TRUST × COUNT_CAP), and even then stops at
    COUNT_CAP + 1 rows. Above the cap the answer is the estimate, labelled as such."""
    found = lead_count_plan(qs)
    guess = found[0] if found else None
    if guess is not None and guess > COUNT_CAP * ESTIMATE_TRUST:
        return guess, True, True
    n, capped = lead_capped_count(qs)
    if capped and guess is not None:
        return max(guess, COUNT_CAP + 1), True, True
    return n, False, capped


def lead_capped_count(qs: QuerySet) -> tuple[int, bool]:
    """(count, capped): an exact count up to COUNT_CAP, else (COUNT_CAP + 1, True)."""
    n = _capped(qs).count()
    return n, n > COUNT_CAP


# --- Pipeline -------------------------------------------------------------------------------

PIPELINE_STAGES = [
    ContactStatus.PENDING,
    ContactStatus.EMAILED,
    ContactStatus.TEXTED,
    ContactStatus.OPENED,
    ContactStatus.CLICKED,
    ContactStatus.REPLIED,
    ContactStatus.INTERESTED,
    ContactStatus.PURCHASED,
    ContactStatus.UNSUBSCRIBED,
    ContactStatus.BOUNCED,
]
STALL_DAYS = 14


@dataclass
class PipelineColumn:
    status: str
    label: str
    count: int
    stalled: int
    oldest_since: datetime | None
    leads: list[dict[str, Any]]

    @property
    def stalled_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.stalled > COUNT_CAP else f"{self.stalled:,}"


def pipeline_columns(qs: QuerySet | None = None, *, top: int = 5) -> list[PipelineColumn]:
    """One column per contact stage: count, leads sitting there longer than STALL_DAYS
    (capped like the table's count), and the leads waiting longest. Time in stage is from
    contact_status_changed_at, which the lifecycle writes in the same transaction as the
    timeline's status event. Unfiltered counts come from the maintained tallies."""
    unfiltered = qs is None
    qs = qs if qs is not None else Business.objects.all()
    stall_before = timezone.now() - timedelta(days=STALL_DAYS)
    if unfiltered:
        counts = tally_counts().get("contact_status", {})
    else:
        counts = dict(
            qs.order_by().values_list("contact_status").annotate(n=Count("id")).order_by()
        )
    columns = []
    labels = dict(ContactStatus.choices)
    for status in PIPELINE_STAGES:
        n = counts.get(status, 0)
        leads: list[dict[str, Any]] = []
        stalled = 0
        if n:
            in_stage = qs.filter(contact_status=status)
            leads = list(
                in_stage.order_by("contact_status_changed_at", "id").values(
                    "id", "name", "city", "qualification_score", "contact_status_changed_at"
                )[:top]
            )
            stalled, _ = lead_capped_count(
                in_stage.filter(contact_status_changed_at__lt=stall_before)
            )
        columns.append(
            PipelineColumn(
                status=status,
                label=labels[status],
                count=n,
                stalled=stalled,
                oldest_since=leads[0]["contact_status_changed_at"] if leads else None,
                leads=leads,
            )
        )
    return columns


def lead_timeline(business: Business, *, limit: int = 200) -> list[LeadEvent]:
    """The lead's timeline, newest first, with the acting user."""
    return list(
        LeadEvent.objects.filter(business=business)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )


def recent_activity(*, limit: int = 15) -> list[LeadEvent]:
    return list(
        LeadEvent.objects.select_related("business", "actor")
        .only(
            "id",
            "kind",
            "at",
            "source",
            "summary",
            "business__id",
            "business__name",
            "actor__username",
        )
        .order_by("-at", "-id")[:limit]
    )
