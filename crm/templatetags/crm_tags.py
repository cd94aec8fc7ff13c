"""Small template helpers for the staff pages."""

from __future__ import annotations

import html
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, urlencode

from django import template
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@lru_cache(maxsize=4096)
def _reverse(urlconf: str | None, prefix: str, name: str, args: tuple) -> str | None:
    # `urlconf` and `prefix` (the request's, which reverse() reads) make the key complete.
    try:
        return reverse(name, urlconf=urlconf, args=args or None)
    except NoReverseMatch:
        return None


def reverse_cached(name: str, *args) -> str | None:
    """reverse(), remembered per process (it costs 25–50 µs, a dozen links per lead page),
    or None when `name` does not resolve."""
    return _reverse(get_urlconf(), get_script_prefix(), name, args)


@register.simple_tag
def path(name: str, *args) -> str:
    """`{% path 'crm:lead-list' %}`: `{% url %}` through reverse_cached."""
    found = reverse_cached(name, *args)
    if found is None:
        raise NoReverseMatch(f"Reverse for {name!r} with arguments {args!r} not found.")
    return found


@register.simple_tag
def url_or_none(name: str, *args) -> str | None:
    """`{% url_or_none 'sites:generate' as u %}`: the URL, or None while the name does not
    exist yet (another app's page), so a page never fails over a missing link."""
    return reverse_cached(name, *args)


_UNITS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def ago_text(value: datetime | None, now: datetime | None = None) -> str:
    """'2 days ago' (largest unit only); '—' for no date. Plain arithmetic: the lead table
    calls this twice per row, and Django's timesince costs ~20× more."""
    if not value:
        return "—"
    seconds = ((now or timezone.now()) - value).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in _UNITS:
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


@register.filter
def ago(value: datetime | None) -> str:
    return ago_text(value)


@register.filter
def humanize_status(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


def sort_param(current: str, key: str) -> str:
    """The sort value a column header links to: toggles direction on the active column,
    otherwise the column's natural first direction (text ascending, numbers/dates descending)."""
    if current == key:
        return f"-{key}"
    if current == f"-{key}":
        return key
    return key if key in {"name", "city", "status"} else f"-{key}"


def sort_state(current: str, key: str) -> str:
    """aria-sort value for a column header."""
    if current == key:
        return "ascending"
    if current == f"-{key}":
        return "descending"
    return "none"


# The lead table's columns: (label, sort key or None, extra class).
LEAD_COLUMNS = (
    ("Name", "name", ""),
    ("City", "city", ""),
    ("Score", "score", "num"),
    ("Rating", "rating", "num"),
    ("Status", "status", ""),
    ("Website", None, ""),
    ("Last contacted", "contacted", ""),
    ("Created", "created", ""),
)


@register.simple_tag
def lead_table_head(params, current: str) -> SafeString:
    """The sortable column headers, built in Python like the rows (each link once, where the
    template spent four tag calls per column on every filter change)."""
    others = params.copy()
    others.pop("sort", None)
    prefix = "?" + (others.urlencode() + "&" if others else "") + "sort="
    cells = []
    for label, key, css in LEAD_COLUMNS:
        cls = f' class="{css}"' if css else ""
        if key is None:
            cells.append(f'<th scope="col"{cls}>{label}</th>')
            continue
        href = _escape(prefix + quote(sort_param(current, key), safe=""))
        cells.append(
            f'<th scope="col"{cls} aria-sort="{sort_state(current, key)}">'
            f'<a href="{href}" hx-get="{href}">{label}</a></th>'
        )
    return mark_safe("".join(cells))  # noqa: S308 - the only interpolated query is escaped


@register.simple_tag
def lead_pager(querystring: str, page, page_no: int) -> SafeString:
    """First / previous / next links of a keyset page (`querystring`: the view's filter and
    sort parameters, already encoded)."""
    base = "?" + querystring

    def link(rel: str, text: str, **cursor) -> str:
        href = _escape(base + ("&" if querystring else "") + urlencode(cursor))
        return f'<a rel="{rel}" href="{href}" hx-get="{href}">{text}</a>'

    first = _escape(base)
    disabled = (
        ' aria-disabled="true" class="disabled"' if page_no == 1 and not page.prev_cursor else ""
    )
    parts = [f'<a href="{first}" hx-get="{first}"{disabled}>« First</a>']
    if page.prev_cursor:
        parts.append(link("prev", "‹ Previous", before=page.prev_cursor, p=page_no - 1))
    else:
        parts.append('<span class="disabled">‹ Previous</span>')
    parts.append(f"<span>Page {page_no}</span>")
    if page.next_cursor:
        parts.append(link("next", "Next ›", after=page.next_cursor, p=page_no + 1))
    else:
        parts.append('<span class="disabled">Next ›</span>')
    return mark_safe("\n".join(parts))  # noqa: S308 - the interpolated URLs are escaped


@register.simple_tag
def options(choices) -> SafeString:
    """`<option>`s for (value, label) pairs, none selected."""
    return mark_safe(_options(choices))  # noqa: S308 - values and labels are escaped


def _options(choices, current: str | None = None) -> str:
    """Escaped `<option>`s; the one whose value is `current` selected."""
    return "".join(
        f'<option value="{_escape(value)}"{" selected" if str(value) == current else ""}>'
        f"{_escape(label)}</option>"
        for value, label in choices
    )


@register.simple_tag
def hidden_inputs(params, form: str) -> SafeString:
    """A hidden input of `form` for every value of the QueryDict `params`."""
    return mark_safe(  # noqa: S308 - names and values are escaped
        "".join(
            f'<input type="hidden" form="{_escape(form)}" name="{_escape(name)}" '
            f'value="{_escape(value)}">'
            for name, values in params.lists()
            for value in values
        )
    )


@register.filter
def pct(part: int | None, whole: int | None) -> str:
    if not whole:
        return "—"
    return f"{100 * (part or 0) / whole:.1f}%"


@register.filter
def bar_width(part: int | None, whole: int | None) -> str:
    """Percentage width for a funnel bar, at least a sliver so zero stays visible."""
    if not whole:
        return "0.5"
    return f"{max(0.5, 100 * (part or 0) / whole):.1f}"


def _escape(value) -> str:
    """django.utils.html.escape without its lazy-string wrapper (the same html.escape; the
    wrapper cost more than the escaping over a page's ~500 values)."""
    return html.escape(str(value))


@register.simple_tag
def lead_rows(rows: list[dict], generate_url: str | None = None) -> SafeString:
    """The lead table's <tr>s, built in Python: at 50 rows a template loop spends ~25
    variable lookups per row, and rendering (not the query) decides the page's speed.
    Every value from the database goes through `escape` (scraped names are untrusted)."""
    now = timezone.now()
    out = []
    for r in rows:
        pk = r["id"]
        name = _escape(r["name"])
        sub = _escape(r["category"])
        if r["owner__username"]:
            sub += " · " + _escape(r["owner__username"])
        place = _escape(r["city"]) + (", " + _escape(r["state"]) if r["state"] else "")
        rating = (
            f'{_escape(r["rating"])}★ <span class="sub">({r["review_count"]})</span>'
            if r["rating"] is not None
            else "—"
        )
        status = _escape(r["contact_status"])
        dnc = (
            ' <span class="badge s-dnc" title="Do not contact">DNC</span>'
            if r["do_not_contact_at"]
            else ""
        )
        website = _escape(r["website_status"])
        actions = f'<a href="/admin/crm/leads/{pk}/" aria-label="View {name}">View</a>'
        if r["email"]:
            email = _escape(r["email"])
            actions += (
                f' <a href="mailto:{email}" aria-label="Email {name}" title="Email {email}">✉</a>'
            )
        if r["phone"]:
            phone = _escape(r["phone"])
            actions += f' <a href="tel:{phone}" aria-label="Call {name}" title="Call {phone}">☎</a>'
        if generate_url and r["website_status"] == "none":
            actions += (
                f' <button type="submit" form="row-action" name="ids" value="{pk}" '
                f'class="link edit-only" aria-label="Generate a site for {name}" '
                'title="Generate a preview site">+site</button>'
            )
        out.append(
            f'<tr><td class="check"><input type="checkbox" form="bulk" name="ids" value="{pk}" '
            f'aria-label="Select {name}"></td>'
            f'<td><a class="lead-name" href="/admin/crm/leads/{pk}/">{name}</a>'
            f'<div class="sub">{sub}</div></td>'
            f"<td>{place}</td>"
            f'<td class="num">{r["qualification_score"]}</td>'
            f'<td class="num">{rating}</td>'
            f'<td><span class="badge s-{status}">{status}</span>{dnc}</td>'
            f'<td><span class="badge w-{website}">{website}</span></td>'
            f"<td>{ago_text(r['last_contacted_at'], now)}</td>"
            f"<td>{ago_text(r['created_at'], now)}</td>"
            f'<td class="row-actions">{actions}</td></tr>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every interpolated value is escaped above


def _attrs(attrs: dict) -> str:
    out = []
    for key, value in attrs.items():
        if value is True:
            out.append(f" {key}")
        elif value not in (None, False):
            out.append(f' {key}="{_escape(value)}"')
    return "".join(out)


# The filter sidebar: groups of (summary, rows); the first group is always shown, the others
# are <details> that open when one of their filters is set. A row is one or two controls
# (name, label, kind); kinds: "input" (the field's own input type and limits), "search",
# "date", "select" (the field's choices, blank meaning Any), "owner" and "campaign"
# (selects listing crm.sidebar's lookups), "checkboxes" (a fieldset, bare without label).
LEAD_SIDEBAR = (
    (None, ((("q", "Search", "search"),), (("owner", "Owner", "owner"),))),
    ("Contact status", ((("contact_status", None, "checkboxes"),),)),
    (
        "Website",
        (
            (("website_status", "Website status", "checkboxes"),),
            (("website_kind", "Website kind", "checkboxes"),),
            (("has_website", "Has own website", "select"),),
        ),
    ),
    (
        "Place & category",
        (
            (("category", "Category", "input"),),
            (("city", "City", "input"),),
            (("state", "State", "input"),),
        ),
    ),
    (
        "Quality",
        (
            (("min_rating", "Min rating", "input"),),
            (("min_reviews", "Min reviews", "input"),),
            (("min_score", "Score from", "input"), ("max_score", "to", "input")),
        ),
    ),
    (
        "Contact data",
        (
            (("has_email", "Has email", "select"),),
            (("has_phone", "Has phone", "select"),),
            (("opted_out", "Opted out", "select"),),
        ),
    ),
    (
        "Engagement",
        (
            (("engagement", "Engagement", "select"),),
            (("campaign", "In campaign", "campaign"),),
            (("contacted_after", "Last contacted from", "date"),),
            (("contacted_before", "Last contacted until", "date"),),
        ),
    ),
    ("Created", ((("created_after", "From", "date"),), (("created_before", "Until", "date"),))),
)
OWNER_CHOICES = (("", "Anyone"), ("me", "My leads"), ("none", "Unassigned"))
SEARCH_PLACEHOLDER = "Name, phone, email, city"


@register.simple_tag
def lead_filter_controls(form, lookups: dict, filters: dict) -> SafeString:
    """The sidebar's filter controls for the lead FilterSet's bound `form`, written directly
    (Django's widget templates cost ~1 ms per field, 22 fields on every page). Values are
    the submitted ones, invalid input included, so the staff member can correct it."""
    out = []
    for summary, rows in LEAD_SIDEBAR:
        body = "".join(_sidebar_row(form, row, lookups) for row in rows)
        if summary is None:
            out.append(body)
            continue
        names = [name for row in rows for name, _, _ in row]
        is_open = " open" if any(name in filters for name in names) else ""
        out.append(
            f'<details class="group"{is_open}><summary>{_escape(summary)}</summary>{body}</details>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value and label is escaped


def _sidebar_row(form, row: tuple, lookups: dict) -> str:
    parts = []
    for name, label, kind in row:
        control = _sidebar_control(form, name, kind, lookups)
        if kind == "checkboxes":
            if label is None:
                return control
            return f"<fieldset><legend>{_escape(label)}</legend>{control}</fieldset>"
        parts.append(f'<label for="id_{name}">{_escape(label)}</label>{control}')
    two = " two" if len(row) > 1 else ""
    return f'<div class="field{two}">{"".join(parts)}</div>'


def _sidebar_control(form, name: str, kind: str, lookups: dict) -> str:
    field = form.fields[name]
    data = form.data
    field_id = f"id_{name}"
    if kind == "checkboxes":
        chosen = set(data.getlist(name)) if hasattr(data, "getlist") else set()
        items = []
        for i, (option, label) in enumerate(field.choices):
            checked = " checked" if str(option) in chosen else ""
            items.append(
                f'<li><label for="{field_id}_{i}"><input type="checkbox" name="{name}" '
                f'value="{_escape(option)}" id="{field_id}_{i}"{checked}> {_escape(label)}'
                "</label></li>"
            )
        return f'<ul id="{field_id}">{"".join(items)}</ul>'
    current = data.get(name) or ""
    if kind in ("select", "owner", "campaign"):
        if kind == "owner":
            choices = [*OWNER_CHOICES, *lookups["staff"]]
        elif kind == "campaign":
            choices = [("", "Any"), *lookups["campaigns"]]
        else:
            choices = [("", "Any"), *(c for c in field.choices if c[0])]
        return f'<select name="{name}" id="{field_id}">{_options(choices, current)}</select>'
    attrs = {**field.widget.attrs, "type": getattr(field.widget, "input_type", "text")}
    if kind == "search":
        attrs.update(type="search", placeholder=SEARCH_PLACEHOLDER)
    elif kind == "date":
        attrs["type"] = "date"
    attrs.update(name=name, id=field_id, value=current)
    return f"<input{_attrs(attrs)}>"
