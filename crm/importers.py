"""Lead import: format detection, per-format row mapping and the set-based upsert.

Each exporter's row is mapped into the `data` dict `crm.services.business_fields` takes,
then all rows are matched in bulk with the dedupe order of `crm.services.business_match`
(gmb_place_id, normalised phone, own-website domain, name + city), against the existing
leads and within the file, and written with bulk_create / bulk_update. Updating a lead
never touches its statuses and never blanks out a known value with an empty one.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm import scoring, sql
from crm.models import Business, EventSource, ImportBatch, ImportRecord, LeadEvent, LeadEventKind
from crm.services import InvalidBusinessData, business_fields, slug_base

FORMATS = ("outscraper-csv", "outscraper-json", "apify-json", "google-places-json", "csv")
BATCH = 2000
# Fields an import may update on an existing lead (never statuses, slug, owner, source).
UPDATABLE = (
    "name",
    "email",
    "phone",
    "website",
    "address",
    "city",
    "state",
    "country",
    "postal_code",
    "latitude",
    "longitude",
    "category",
    "rating",
    "review_count",
    "photo_count",
    "recent_review_count",
    "hours",
    "services",
)


class ImportFailed(Exception):
    """The file cannot be imported; the message says why (nothing was written)."""


class _Rollback(Exception):
    pass


# ---------------------------------------------------------------- reading and detection


# Cells may be big (a scraped "about" text); the csv module's own limit (128 KiB) would make
# one such cell, even in a column nobody reads, fail the whole file.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
# A raw cell longer than this is not kept in ImportRecord.raw (its length is, instead).
RAW_CELL_MAX = 2_000
# Encodings a tie between equally plausible candidates is settled for, in this order: what
# spreadsheet programs in the Americas export ("Save as CSV" in Excel on Windows).
PREFERRED_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
# Python's "surrogateescape" error handler keeps each undecodable byte as one of these.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass
class Decoded:
    text: str
    encoding: str  # "utf-8", or the detected one ("cp1252", …)
    detected: bool = False  # the encoding was guessed from the bytes


def decode_file(path: str | Path) -> Decoded:
    """The file's text, read honestly:

    - UTF-8 (with or without BOM) when it is;
    - a UTF-8 file with a few undecodable rows stays UTF-8: each bad byte is kept as a
      surrogate escape, and the rows holding one are reported bad (`undecodable`), never
      re-read in another encoding (that would rename every good "Café" to "CafÃ©");
    - a file that is plainly another encoding throughout (no line with non-ASCII text
      decodes as UTF-8 more often than one fails) is decoded with the encoding
      charset-normalizer detects, and the report names it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return Decoded(raw.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    if _mostly_utf8(raw):
        return Decoded(raw.decode("utf-8-sig", errors="surrogateescape"), "utf-8")
    return _detected(raw)


def _mostly_utf8(raw: bytes) -> bool:
    good = bad = 0
    for line in raw.splitlines():
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            good += 1
        except UnicodeDecodeError:
            bad += 1
    return good > 0 and good >= bad


def _detected(raw: bytes) -> Decoded:
    from charset_normalizer import from_bytes

    matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        raise ImportFailed("the file is neither UTF-8 nor text in an encoding we can detect")
    # Short files often leave several code pages equally plausible (cp1250 and cp1252 read
    # "Café" alike but not "Niño"): settle a tie for the usual Windows export.
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    for name in PREFERRED_ENCODINGS:
        if any(name in m.could_be_from_charset for m in tied):
            return Decoded(raw.decode(name), name, detected=True)
    return Decoded(str(best), best.encoding, detected=True)


def read_text(path: str | Path) -> str:
    """The file's text (see decode_file)."""
    return decode_file(path).text


def undecodable(value: Any) -> bool:
    """Whether a raw record holds a byte that was not valid UTF-8 (see decode_file)."""
    if isinstance(value, str):
        return bool(_UNDECODABLE.search(value))
    if isinstance(value, dict):
        return any(undecodable(k) or undecodable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(undecodable(v) for v in value)
    return False


def _storable(value: Any) -> Any:
    """A raw record as ImportRecord can keep it: undecodable bytes as U+FFFD, a huge cell
    as a note of its length."""
    if isinstance(value, str):
        if len(value) > RAW_CELL_MAX:
            return f"[{len(value):,} characters not kept]"
        return _UNDECODABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _has_long_cell(raw: dict) -> bool:
    return any(isinstance(v, str) and len(v) > RAW_CELL_MAX for v in raw.values())


def _is_blank_row(raw: dict) -> bool:
    """A row with no value at all (",,,," in a CSV, {} in JSON): skipped, not an error."""
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in raw.values())


def _json_records(text: str) -> tuple[Any, list[dict]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(doc, dict) and isinstance(doc.get("places"), list):
        return doc, doc["places"]
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        doc = doc["data"]  # Outscraper API envelope {"data": [[...]]}
    if isinstance(doc, list) and doc and all(isinstance(x, list) for x in doc):
        doc = [item for group in doc for item in group]  # Outscraper: one list per query
    if not isinstance(doc, list):
        raise ImportFailed("JSON must be a list of records or {'places': [...]}")
    return doc, doc


def detect_format(text: str) -> str:
    stripped = text.lstrip()
    if stripped[:1] in ("[", "{"):
        doc, records = _json_records(text)
        if isinstance(doc, dict) and "places" in doc:
            return "google-places-json"
        first = next((r for r in records if isinstance(r, dict)), {})
        if "title" in first or "categoryName" in first or "totalScore" in first:
            return "apify-json"
        if "name" in first or "place_id" in first or "full_address" in first:
            return "outscraper-json"
        raise ImportFailed("cannot detect the JSON format; pass --format")
    header = next(csv.reader(io.StringIO(stripped.splitlines()[0] if stripped else "")), [])
    header = {h.strip() for h in header}
    if not header:
        raise ImportFailed("the file is empty")
    if header & {"full_address", "place_id", "site", "reviews", "photos_count"}:
        return "outscraper-csv"
    if "name" in header:
        return "csv"
    raise ImportFailed("cannot detect the format (no 'name' column); pass --format")


# ---------------------------------------------------------------- per-format mapping


def _hours(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
            if isinstance(parsed, dict):
                return parsed
        except json.JSONDecodeError:
            pass
        return {"text": value.strip()}
    if isinstance(value, list) and value:
        return {"text": "; ".join(str(v) for v in value)}
    return {}


def _first_email(row: dict) -> str:
    for key in ("email_1", "email", "email_2", "email_3"):
        if row.get(key):
            return str(row[key])
    emails = row.get("emails")
    if isinstance(emails, list) and emails:
        return str(emails[0])
    return ""


def map_outscraper(row: dict) -> dict:
    return {
        "name": row.get("name"),
        "website": row.get("site") or row.get("website"),
        "phone": row.get("phone"),
        "email": _first_email(row),
        "address": row.get("full_address"),
        "city": row.get("city"),
        "state": row.get("state") or row.get("us_state"),
        "postal_code": row.get("postal_code"),
        "country": row.get("country_code"),
        "latitude": row.get("latitude"),
        "longitude": row.get("longitude"),
        "category": row.get("type") or row.get("category"),
        "rating": row.get("rating"),
        "review_count": row.get("reviews"),
        "photo_count": row.get("photos_count"),
        "hours": _hours(row.get("working_hours")),
        "gmb_place_id": row.get("place_id"),
    }


def map_apify(row: dict) -> dict:
    location = row.get("location") or {}
    return {
        "name": row.get("title"),
        "website": row.get("website"),
        "phone": row.get("phone") or row.get("phoneUnformatted"),
        "email": (row.get("emails") or [""])[0] if isinstance(row.get("emails"), list) else "",
        "address": row.get("address"),
        "city": row.get("city"),
        "state": row.get("state"),
        "postal_code": row.get("postalCode"),
        "country": row.get("countryCode"),
        "latitude": location.get("lat") if isinstance(location, dict) else None,
        "longitude": location.get("lng") if isinstance(location, dict) else None,
        "category": row.get("categoryName"),
        "rating": row.get("totalScore"),
        "review_count": row.get("reviewsCount"),
        "photo_count": row.get("imagesCount"),
        "hours": _hours(row.get("openingHours")),
        "gmb_place_id": row.get("placeId"),
    }


def _address_component(row: dict, kind: str) -> str:
    for comp in row.get("addressComponents") or []:
        if isinstance(comp, dict) and kind in (comp.get("types") or []):
            return comp.get("shortText") or comp.get("longText") or ""
    return ""


def map_google_places(row: dict) -> dict:
    display = row.get("displayName") or {}
    location = row.get("location") or {}
    hours = row.get("regularOpeningHours") or {}
    return {
        "name": display.get("text") if isinstance(display, dict) else display,
        "website": row.get("websiteUri"),
        "phone": row.get("nationalPhoneNumber") or row.get("internationalPhoneNumber"),
        "address": row.get("formattedAddress"),
        "city": _address_component(row, "locality"),
        "state": _address_component(row, "administrative_area_level_1"),
        "postal_code": _address_component(row, "postal_code"),
        "country": _address_component(row, "country") or "US",
        "latitude": location.get("latitude") if isinstance(location, dict) else None,
        "longitude": location.get("longitude") if isinstance(location, dict) else None,
        "category": row.get("primaryType"),
        "rating": row.get("rating"),
        "review_count": row.get("userRatingCount"),
        "photo_count": len(row.get("photos") or []),
        "hours": _hours(hours.get("weekdayDescriptions") if isinstance(hours, dict) else None),
        "gmb_place_id": row.get("id"),
    }


def map_plain(row: dict) -> dict:
    data = dict(row)
    if isinstance(data.get("hours"), str):
        data["hours"] = _hours(data["hours"])
    if isinstance(data.get("services"), str):
        data["services"] = [s.strip() for s in data["services"].split(";") if s.strip()]
    return data


MAPPERS = {
    "outscraper-csv": map_outscraper,
    "outscraper-json": map_outscraper,
    "apify-json": map_apify,
    "google-places-json": map_google_places,
    "csv": map_plain,
}


def read_rows(text: str, fmt: str) -> list[tuple[int, dict]]:
    """(row number, raw record) pairs. CSV rows count from 2 (line 1 is the header)."""
    if fmt.endswith("json"):
        _doc, records = _json_records(text)
        return [(n, r if isinstance(r, dict) else {"_value": r}) for n, r in enumerate(records, 1)]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        for n, row in enumerate(reader, 2):
            rows.append(
                (n, {(k or "").strip(): (v if v is not None else "") for k, v in row.items()})
            )
    except csv.Error as exc:  # e.g. a cell over the csv module's field size limit
        raise ImportFailed(f"bad CSV at line {reader.line_num}: {exc}") from None
    return rows


# ---------------------------------------------------------------- the upsert


@dataclass
class Report:
    format: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    # Invalid contact values left out of otherwise good rows (crm.contact).
    dropped: list[tuple[int, str]] = field(default_factory=list)
    blank_rows: int = 0
    encoding: str = "utf-8"
    encoding_detected: bool = False
    dry_run: bool = False
    batch_id: int | None = None


def _keys(f: dict) -> list[tuple[str, str]]:
    keys = []
    if f.get("gmb_place_id"):
        keys.append(("gmb_place_id", f["gmb_place_id"]))
    if f.get("phone_normalized"):
        keys.append(("phone_normalized", f["phone_normalized"]))
    if f.get("website_domain"):
        keys.append(("website_domain", f["website_domain"]))
    if f.get("name_city_key"):
        keys.append(("name_city_key", f["name_city_key"]))
    return keys


def _chunks(items: list, size: int = 5000):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _existing_index(prepared: list) -> dict[tuple[str, str], int]:
    """(key name, value) → lowest pk of an existing lead, for every key in the file."""
    wanted: dict[str, set] = {
        k: set() for k in ("gmb_place_id", "phone_normalized", "website_domain", "name_city_key")
    }
    for _n, _raw, fields in prepared:
        for name, value in _keys(fields):
            wanted[name].add(value)
    index: dict[tuple[str, str], int] = {}
    for name, values in wanted.items():
        for value, pk in _lookup(name, sorted(values), ordered=True):
            index.setdefault((name, value), pk)
    return index


def _lookup(column: str, values: list[str], *, ordered: bool = False):
    """(value, pk) of the leads whose `column` is one of `values`. On PostgreSQL one array
    parameter per chunk (crm.sql.pks_by_values)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        for chunk in _chunks(values):
            qs = Business.objects.filter(**{f"{column}__in": chunk})
            yield from (qs.order_by("pk") if ordered else qs).values_list(column, "pk")
        return
    yield from sql.pks_by_values(Business, column, _chunks(values, 50_000), ordered=ordered)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == [] or value == 0


def _merge(target: dict, incoming: dict) -> bool:
    """Copy incoming non-empty values over target; True when anything changed."""
    changed = False
    for name in UPDATABLE:
        value = incoming.get(name)
        if _is_empty(value) or target.get(name) == value:
            continue
        if name == "country" and value == "US" and target.get(name):
            continue  # the default, not information
        target[name] = value
        changed = True
    if not target.get("gmb_place_id") and incoming.get("gmb_place_id"):
        target["gmb_place_id"] = incoming["gmb_place_id"]
        changed = True
    return changed


def _derive(f: dict) -> None:
    """Recompute the derived keys and score after a merge (same rules as business_fields)."""
    derived = business_fields({k: f.get(k) for k in (*UPDATABLE, "gmb_place_id")})
    for name in (
        "phone_normalized",
        "website_domain",
        "website_kind",
        "name_city_key",
        "qualification_score",
        "score_breakdown",
        "website",
    ):
        f[name] = derived[name]


def _unique_slugs(names: list[tuple[str, str]]) -> list[str]:
    bases = [slug_base(n, c) for n, c in names]
    unique_bases = sorted(set(bases))
    taken: set[str] = set()
    taken |= {slug for slug, _pk in _lookup("slug", unique_bases)}
    clashing = sorted(_dupes(bases) | {b for b in bases if b in taken})
    for chunk in _chunks(clashing, 200):
        q = Q()
        for base in chunk:
            q |= Q(slug__startswith=f"{base}-")
        taken |= set(Business.objects.filter(q).values_list("slug", flat=True))
    result = []
    for base in bases:
        slug, n = base, 2
        while slug in taken:
            slug = f"{base}-{n}"
            n += 1
        taken.add(slug)
        result.append(slug)
    return result


def _insert(model, rows: list[dict]) -> None:
    """Insert rows given as {attname: value} (missing fields take their defaults): COPY on
    PostgreSQL (no pks needed back, no model instance per row: crm.sql.rows_copy),
    bulk_create elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql" or not rows:
        model.objects.bulk_create([model(**row) for row in rows], batch_size=BATCH)
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key or f.generated)]
    # Field.get_db_prep_save per cell cost more than the COPY itself; psycopg adapts plain
    # values, so only JSON needs encoding and auto_now fields one shared timestamp.
    getters = [_copy_getter(f, defaults=True) for f in fields]
    sql.rows_copy(model, fields, ([get(row) for get in getters] for row in rows))


def _update(model, objs: list, names: list[str]) -> None:
    """bulk_update, or on PostgreSQL COPY into a temporary table plus one UPDATE … FROM
    (crm.sql.rows_update)."""
    from django.db import connection

    if connection.vendor != "postgresql" or not objs:
        model.objects.bulk_update(objs, names, batch_size=BATCH)
        return
    meta = model._meta
    fields = [meta.pk] + [meta.get_field(n) for n in names]
    getters = [_copy_getter(f) for f in fields]
    sql.rows_update(model, fields, ([get(obj) for get in getters] for obj in objs))


def _copy_getter(field, *, defaults: bool = False):
    """A function giving `field`'s COPY value from a model instance, or with `defaults`
    from a {attname: value} dict (a missing value takes the field's default, computed once)."""
    from operator import attrgetter

    from django.db.models import JSONField

    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        now = timezone.now()
        return lambda obj: now
    name = field.attname
    if defaults:
        default = field.get_default()
        value = lambda row: row.get(name, default)  # noqa: E731
    else:
        value = attrgetter(name)
    if isinstance(field, JSONField):
        encoder = field.encoder
        return lambda obj: json.dumps(value(obj), cls=encoder)
    return value


def _dupes(items: list[str]) -> set[str]:
    seen, dupes = set(), set()
    for item in items:
        (dupes if item in seen else seen).add(item)
    return dupes


def import_file(
    path: str | Path,
    *,
    fmt: str | None = None,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    source: str | None = None,
) -> Report:
    """Import one exporter file. Raises ImportFailed (nothing written) on bad input."""
    with _collector_paused():
        return _import_file(path, fmt, dry_run, skip_bad_rows, source)


@contextmanager
def _collector_paused():
    """An import allocates a few dicts per row, none of them cyclic; Python's cyclic garbage
    collector walking them again and again cost a fifth of a 100,000-row import."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_file(path, fmt, dry_run, skip_bad_rows, source) -> Report:
    decoded = decode_file(path)
    text = decoded.text
    if "\x00" in text or "\\u0000" in text:
        # PostgreSQL text cannot hold NUL: refuse the file rather than fail half-way.
        raise ImportFailed("the file contains NUL characters (binary or UTF-16?); nothing imported")
    if fmt is None:
        fmt = detect_format(text)
    elif fmt not in FORMATS:
        raise ImportFailed(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    rows = read_rows(text, fmt)
    mapper = MAPPERS[fmt]
    source = (source or fmt)[:40]
    report = Report(
        format=fmt, dry_run=dry_run, encoding=decoded.encoding, encoding_detected=decoded.detected
    )
    kept = []
    for number, raw in rows:
        if _is_blank_row(raw):
            report.blank_rows += 1
        else:
            kept.append((number, raw))
    rows = kept
    report.rows = len(rows)

    prepared: list[tuple[int, dict, dict]] = []
    for number, raw in rows:
        if undecodable(raw):
            report.skipped.append((number, "not valid UTF-8 (an undecodable byte in the row)"))
            continue
        notes: list[str] = []
        try:
            prepared.append((number, raw, business_fields(mapper(raw), dropped=notes)))
        except (InvalidBusinessData, AttributeError, TypeError) as exc:
            report.skipped.append((number, str(exc)))
            continue
        report.dropped += [(number, note) for note in notes]
    if report.skipped and not skip_bad_rows:
        shown = "; ".join(f"row {n}: {why}" for n, why in report.skipped[:10])
        more = len(report.skipped) - 10
        raise ImportFailed(
            f"{len(report.skipped)} bad row(s), nothing imported ({shown}"
            + (f"; and {more} more" if more > 0 else "")
            + "). Fix them or pass --skip-bad-rows."
        )
    try:
        with transaction.atomic():
            _write(path, fmt, source, rows, prepared, report)
            if dry_run:
                raise _Rollback
    except _Rollback:
        report.batch_id = None
    return report


def _write(path, fmt, source, rows, prepared, report: Report) -> None:
    now = timezone.now()
    batch = ImportBatch.objects.create(
        file_name=str(path)[:500], format=fmt, dry_run=report.dry_run, started_at=now
    )
    report.batch_id = batch.pk
    index = _existing_index(prepared)
    # Per row: ("existing", pk) or ("new", position in `new`).
    targets: dict[int, tuple[str, int]] = {}
    new: list[dict] = []
    new_index: dict[tuple[str, str], int] = {}
    updates: dict[int, dict] = {}  # pk → incoming fields merged in file order
    for number, _raw, fields in prepared:
        keys = _keys(fields)
        target = None
        for key in keys:  # dedupe order: an existing lead first, key by key
            if key in index:
                target = ("existing", index[key])
                break
            if key in new_index:
                target = ("new", new_index[key])
                break
        if target is None:
            target = ("new", len(new))
            new.append(dict(fields))
        elif target[0] == "new":
            if _merge(new[target[1]], fields):
                _derive(new[target[1]])
        else:
            merged = updates.setdefault(target[1], {})
            for name in (*UPDATABLE, "gmb_place_id"):
                if not _is_empty(fields.get(name)):
                    merged[name] = fields[name]
        if target[0] == "new":
            for key in _keys(new[target[1]]):
                new_index.setdefault(key, target[1])
        targets[number] = target

    # Updates: load, merge, bulk_update only what changed.
    changed_pks: set[int] = set()
    if updates:
        names = [
            *UPDATABLE,
            "gmb_place_id",
            "phone_normalized",
            "website_domain",
            "website_kind",
            "name_city_key",
            "qualification_score",
            "score_breakdown",
        ]
        for chunk in _chunks(sorted(updates)):
            objs = list(Business.objects.filter(pk__in=chunk).only("pk", *names))
            dirty = []
            for obj in objs:
                current = {n: getattr(obj, n) for n in (*UPDATABLE, "gmb_place_id")}
                incoming = updates[obj.pk]
                if incoming.get("gmb_place_id") and current["gmb_place_id"]:
                    incoming = {k: v for k, v in incoming.items() if k != "gmb_place_id"}
                if not _merge(current, incoming):
                    continue
                _derive(current)
                before = {n: getattr(obj, n) for n in names}
                for n in names:
                    setattr(obj, n, current[n])
                if any(before[n] != getattr(obj, n) for n in names):
                    obj.updated_at = now
                    dirty.append(obj)
                    changed_pks.add(obj.pk)
            _update(Business, dirty, [*names, "updated_at"])

    # Creates.
    slugs = _unique_slugs([(f["name"], f["city"]) for f in new])
    creates = [
        {
            **f,
            "slug": slug,
            "source": source,
            "created_at": now,
            "contact_status_changed_at": now,
            "website_status_changed_at": now,
        }
        for slug, f in zip(slugs, new, strict=True)
    ]
    _insert(Business, creates)  # slugs are unique: the pks come back by slug
    by_slug = dict(_lookup("slug", slugs))
    new_pks = [by_slug[slug] for slug in slugs]

    events = [
        {
            "business_id": pk,
            "kind": LeadEventKind.CREATED,
            "source": EventSource.SYSTEM,
            "at": now,
            "summary": f"Lead created from {source}",
            "data": {"source": source, "import_batch": batch.pk},
        }
        for pk in new_pks
    ] + [
        {
            "business_id": pk,
            "kind": LeadEventKind.IMPORTED,
            "source": EventSource.SYSTEM,
            "at": now,
            "summary": f"Updated by import from {source}",
            "data": {"import_batch": batch.pk},
        }
        for pk in sorted(changed_pks)
    ]
    _insert(LeadEvent, events)

    # Raw records, one per row, with the outcome.
    skipped = dict(report.skipped)
    dropped: dict[int, list[str]] = {}
    for number, note in report.dropped:
        dropped.setdefault(number, []).append(note)
    records = []
    seen_new: set[int] = set()
    for number, raw in rows:
        if number in skipped:
            records.append(
                {
                    "batch_id": batch.pk,
                    "row_number": number,
                    "raw": _storable(raw),
                    "outcome": ImportRecord.Outcome.SKIPPED,
                    "reason": skipped[number][:300],
                }
            )
            continue
        kind, ref = targets[number]
        if kind == "new":
            pk = new_pks[ref]
            if ref in seen_new:
                outcome, reason = ImportRecord.Outcome.UPDATED, "duplicate within the file"
                report.unchanged += 1
            else:
                seen_new.add(ref)
                outcome, reason = ImportRecord.Outcome.CREATED, ""
                report.created += 1
        else:
            pk = ref
            if pk in changed_pks:
                outcome, reason = ImportRecord.Outcome.UPDATED, ""
                report.updated += 1
            else:
                outcome, reason = ImportRecord.Outcome.UPDATED, "unchanged"
                report.unchanged += 1
        records.append(
            {
                "batch_id": batch.pk,
                "row_number": number,
                "business_id": pk,
                "raw": _storable(raw) if _has_long_cell(raw) else raw,
                "outcome": outcome,
                "reason": "; ".join(filter(None, [reason, *dropped.get(number, [])]))[:300],
            }
        )
    _insert(ImportRecord, records)
    batch.created, batch.updated, batch.skipped = (
        report.created,
        report.updated,
        len(report.skipped),
    )
    batch.finished_at = timezone.now()
    batch.save(update_fields=["created", "updated", "skipped", "finished_at"])


# ---------------------------------------------------------------- scoring


RESCORE_BATCH = 20_000


def rescore(*, only_unscored: bool = False, dry_run: bool = False) -> dict:
    """Recompute website_kind/domain and score for every lead in batches of bulk_update."""
    from crm.normalize import website_host

    qs = Business.objects.order_by("pk").only(
        "pk",
        "website",
        "website_kind",
        "website_domain",
        "phone",
        "phone_normalized",
        "email",
        "rating",
        "review_count",
        "recent_review_count",
        "photo_count",
        "qualification_score",
        "score_breakdown",
    )
    if only_unscored:
        qs = qs.filter(score_breakdown={})
    from django.conf import settings

    threshold = settings.QUALIFIED_SCORE
    summary = {"total": 0, "changed": 0, "bands": {}, "qualified": 0, "threshold": threshold}
    fields = ["website_kind", "website_domain", "qualification_score", "score_breakdown"]
    with transaction.atomic():
        dirty: list[Business] = []
        for obj in qs.iterator(chunk_size=BATCH):
            before = (
                obj.website_kind,
                obj.website_domain,
                obj.qualification_score,
                obj.score_breakdown,
            )
            obj.website_kind = scoring.classify_website(obj.website)
            obj.website_domain = website_host(obj.website) if obj.website_kind == "own" else ""
            obj.qualification_score, obj.score_breakdown = scoring.score_business(obj)
            summary["total"] += 1
            band = min(obj.qualification_score // 10 * 10, 90)
            label = f"{band}-{band + 9 if band < 90 else 100}"
            summary["bands"][label] = summary["bands"].get(label, 0) + 1
            if obj.qualification_score >= threshold:
                summary["qualified"] += 1
            if before != (
                obj.website_kind,
                obj.website_domain,
                obj.qualification_score,
                obj.score_breakdown,
            ):
                summary["changed"] += 1
                dirty.append(obj)
            if len(dirty) >= RESCORE_BATCH:
                if not dry_run:
                    _update(Business, dirty, fields)
                dirty = []
        if dirty and not dry_run:
            _update(Business, dirty, fields)
    return summary
