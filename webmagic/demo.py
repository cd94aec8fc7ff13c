"""The demo world behind `seed_demo`: leads, sites, campaigns, messages and purchases.

The world is a snapshot, not a replay: rows are written in bulk (COPY on PostgreSQL,
bulk_create elsewhere), but every status on them is the one the lifecycle would have
produced from the same events applied in time order. Each lead is simulated on its own:

    scraped (created_at) → scored (crm.scoring, the one formula) → maybe a preview site
    → maybe contacted by one campaign (email, or SMS with consent) → provider events
    (delivered / opened / clicked / bounced / failed) → reply, opt-out, checkout, payment

and its contact_status, furthest_contact_status, website_status, last_contacted_at and
opt-out / bounce timestamps are derived from that event list with the lifecycle's own
ranks (crm.lifecycle.CONTACT_RANK / ENGAGEMENT_RANK / WEBSITE_RANK). The timeline gets
the LeadEvents the lifecycle and the services would have written.

Deterministic: the same --seed and the same anchor time (`now`) give the same rows,
ids included (ids are assigned here, starting after the highest existing id).
"""

from __future__ import annotations

import bisect
import json
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.management.color import no_style
from django.db import DatabaseError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from billing.charges import add_interval, purchase_charges
from billing.models import (
    BillingInterval,
    Checkout,
    CheckoutStatus,
    Customer,
    Payment,
    PaymentKind,
    PaymentStatus,
    Subscription,
    SubscriptionState,
)
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Direction,
    Message,
    MessageStatus,
    Suppression,
    SuppressionKind,
)
from campaigns.sending import STOP_TEXT, UNSUBSCRIBE_SALT, render_text
from crm import scoring
from crm.lifecycle import CONTACT_RANK, ENGAGEMENT_RANK
from crm.models import (
    Business,
    ContactStatus,
    EventSource,
    ImportBatch,
    ImportRecord,
    LeadEvent,
    LeadEventKind,
    ProviderEvent,
    WebsiteStatus,
)
from crm.normalize import fold
from crm.tallies import tally_rebuild
from sites.models import Site, SiteStatus, SubscriptionStatus

CS = ContactStatus
WS = WebsiteStatus
K = LeadEventKind
SRC = EventSource

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
WORLD_DAYS = 120
CHUNK = 10_000  # leads simulated and written per round (memory stays flat at 1M)

# The orphaned site `link_orphan_sites` repairs (DESIGN.md "Running").
ORPHAN_SLUG = "la-plumbing-pros"
ORPHAN_CONTENT = {
    "name": "Los Angeles Plumbing Pros",
    "phone": "(213) 555-0147",
    "email": "",
    "website": "",
    "address": "1420 W Olympic Blvd",
    "city": "Los Angeles",
    "state": "CA",
    "country": "US",
    "postal_code": "90015",
    "category": "Plumber",
    "rating": 4.6,
    "review_count": 87,
    "photo_count": 14,
    "hours": {"Monday–Friday": "7:00 AM – 7:00 PM", "Saturday": "8:00 AM – 4:00 PM"},
    "services": ["Emergency repairs", "Drain cleaning", "Water heaters", "Leak detection"],
    "gmb_place_id": None,
}
ORPHAN_KEY = "los angeles plumbing pros|los angeles"
ORPHAN_PHONE_KEY = 213 * 10**7 + 555 * 10**4 + 147

# Demo staff: owners of leads and creators of campaigns (no usable password).
DEMO_STAFF = (
    ("maria.garcia", "Maria", "Garcia", "sales"),
    ("james.chen", "James", "Chen", "sales"),
    ("priya.patel", "Priya", "Patel", "sales"),
    ("tom.baker", "Tom", "Baker", "viewer"),
)

# Funnel shape (probabilities). Tuned so that ≈75% of leads qualify and ≈60% of sent
# emails are opened, with a few purchases per few hundred leads.
P = {
    "email": 0.70,
    "phone": 0.92,
    "site_if_qualified": 0.82,
    "site_if_not": 0.10,
    "archived_site": 0.02,
    "contact_if_qualified": 0.88,
    "contact_if_not": 0.45,
    "sms_channel": 0.06,  # of leads with both an email and a phone
    "sms_only": 0.3,  # of leads with a phone but no email
    "sms_consent_other": 0.08,
    "bounce": 0.03,
    "open": 0.66,
    "open_followup": 0.30,
    "click_of_open": 0.36,
    "sms_fail": 0.03,
    "sms_click": 0.24,
    "reply_clicked": 0.16,
    "reply_opened": 0.04,
    "sms_reply": 0.09,
    "unsubscribe": 0.05,
    "sms_stop": 0.05,
    "complaint_of_unsub": 0.1,
    "followup": 0.6,
    "checkout_of_click": 0.30,
    "paid_of_checkout": 0.55,
    "failed_payment_of_unpaid": 0.25,
    "gtq": 0.2,
    "owner": 0.7,
}
SOURCES = (("outscraper", 55), ("apify", 25), ("google_places", 15), ("manual", 5))
FREEMAIL = ("gmail.example", "yahoo.example", "outlook.example", "icloud.example")
GTQ_SETUP_CENTS, GTQ_MONTHLY_CENTS = 310_000, 75_000


@dataclass(frozen=True)
class Category:
    label: str
    weight: int
    template: str
    patterns: tuple[str, ...]
    words: tuple[str, ...]
    services: tuple[str, ...]
    booking: str  # the booking / ordering host this trade tends to use
    hours: tuple[str, str, str]  # weekdays, saturday, sunday ("" = closed)


TRADE_HOURS = ("7:00 AM – 6:00 PM", "8:00 AM – 2:00 PM", "")
CATEGORIES = (
    Category(
        "Plumber",
        14,
        "plumber",
        (
            "{surname} Plumbing",
            "{city} Plumbing Pros",
            "{first}'s Plumbing & Drain",
            "{word} Rooter",
            "{surname} & Sons Plumbing",
            "{word} Plumbing Co.",
        ),
        ("Blue Wave", "Reliable", "Rapid", "All-Pro", "Clearflow", "Pipeline", "Ace", "TrueFlow"),
        (
            "Emergency repairs",
            "Drain cleaning",
            "Water heaters",
            "Leak detection",
            "Repiping",
            "Sewer lines",
        ),
        "housecallpro.com",
        TRADE_HOURS,
    ),
    Category(
        "Electrician",
        11,
        "electrician",
        (
            "{surname} Electric",
            "{word} Electrical Services",
            "{city} Electricians",
            "{first}'s Electric",
            "{surname} Power & Light",
        ),
        ("Bright Spark", "Volt", "Current", "Lightning", "Ampere", "Live Wire", "Brightline"),
        (
            "Panel upgrades",
            "EV chargers",
            "Lighting",
            "Rewiring",
            "Generators",
            "Code inspections",
        ),
        "getjobber.com",
        TRADE_HOURS,
    ),
    Category(
        "Restaurant",
        14,
        "restaurant",
        (
            "{first}'s Kitchen",
            "Taqueria {spanish}",
            "{surname}'s Diner",
            "The {word} Table",
            "{city} Grill",
            "{word} Bistro",
        ),
        ("Golden", "Rustic", "Olive", "Copper", "Smokehouse", "Harvest", "Little Saigon"),
        ("Dine-in", "Takeout", "Catering", "Delivery", "Brunch", "Private events"),
        "toasttab.com",
        ("11:00 AM – 10:00 PM", "10:00 AM – 11:00 PM", "10:00 AM – 9:00 PM"),
    ),
    Category(
        "Bakery",
        4,
        "restaurant",
        ("{first}'s Bakery", "{word} Bakehouse", "{city} Bread Co.", "La Panadería {spanish}"),
        ("Sunrise", "Sugar & Salt", "Golden Crust", "Flour Power", "Sweet Spot"),
        ("Custom cakes", "Fresh bread", "Pastries", "Wedding cakes", "Coffee"),
        "toasttab.com",
        ("6:00 AM – 3:00 PM", "7:00 AM – 2:00 PM", ""),
    ),
    Category(
        "Roofer",
        8,
        "generic",
        ("{surname} Roofing", "{word} Roofing & Gutters", "{city} Roof Repair"),
        ("Summit", "Peak", "Top Notch", "Shield", "Skyline", "Ironclad"),
        ("Roof repair", "Roof replacement", "Gutters", "Storm damage", "Inspections"),
        "getjobber.com",
        TRADE_HOURS,
    ),
    Category(
        "Landscaper",
        9,
        "generic",
        ("{surname} Landscaping", "{word} Lawn & Garden", "{first}'s Lawn Care"),
        ("Green Thumb", "Evergreen", "Cedar", "Fresh Cut", "Oak & Stone", "Greenscape"),
        ("Lawn care", "Irrigation", "Tree trimming", "Hardscaping", "Sod installation"),
        "getjobber.com",
        TRADE_HOURS,
    ),
    Category(
        "Dentist",
        7,
        "generic",
        ("{surname} Family Dentistry", "{city} Smiles", "{word} Dental Care"),
        ("Bright", "Gentle", "Pearl", "Sunny", "Modern"),
        ("Cleanings", "Whitening", "Implants", "Invisalign", "Emergency dental"),
        "calendly.com",
        ("8:00 AM – 5:00 PM", "", ""),
    ),
    Category(
        "Hair Salon",
        9,
        "generic",
        ("{word} Hair Studio", "Salon {first}", "{first}'s Cuts & Color", "The {word} Salon"),
        ("Velvet", "Luxe", "Bloom", "Mane Street", "Glow", "Shear Magic"),
        ("Haircuts", "Color", "Balayage", "Blowouts", "Bridal styling"),
        "booksy.com",
        ("9:00 AM – 7:00 PM", "9:00 AM – 5:00 PM", ""),
    ),
    Category(
        "Auto Repair",
        10,
        "generic",
        ("{surname} Auto Repair", "{word} Auto Care", "{city} Transmission", "{first}'s Garage"),
        ("Precision", "Pit Stop", "Honest", "Midtown", "Turbo", "Main Street"),
        ("Brakes", "Oil changes", "Diagnostics", "Transmission", "A/C repair", "Tires"),
        "calendly.com",
        ("8:00 AM – 6:00 PM", "9:00 AM – 1:00 PM", ""),
    ),
    Category(
        "HVAC",
        7,
        "generic",
        ("{surname} Heating & Air", "{word} HVAC", "{city} Comfort Systems"),
        ("Polar", "Arctic Air", "Comfort Zone", "AirPro", "Cool Breeze"),
        ("AC repair", "Furnace repair", "Installations", "Duct cleaning", "Maintenance plans"),
        "housecallpro.com",
        TRADE_HOURS,
    ),
    Category(
        "House Cleaning",
        7,
        "generic",
        ("{first}'s Cleaning Service", "{word} Maids", "{city} Home Cleaning"),
        ("Sparkle", "Fresh Start", "Spotless", "Shine", "Tidy Nest"),
        ("Deep cleaning", "Move-out cleaning", "Recurring cleaning", "Office cleaning"),
        "housecallpro.com",
        ("8:00 AM – 5:00 PM", "9:00 AM – 1:00 PM", ""),
    ),
)

# city, state, area codes, ZIP prefix, latitude, longitude, weight
CITIES = (
    ("Austin", "TX", (512, 737), "787", 30.27, -97.74, 6),
    ("Dallas", "TX", (214, 469, 972), "752", 32.78, -96.80, 6),
    ("Houston", "TX", (713, 281, 832), "770", 29.76, -95.37, 7),
    ("San Antonio", "TX", (210,), "782", 29.42, -98.49, 5),
    ("Fort Worth", "TX", (817,), "761", 32.75, -97.33, 3),
    ("El Paso", "TX", (915,), "799", 31.76, -106.49, 2),
    ("Phoenix", "AZ", (602, 480, 623), "850", 33.45, -112.07, 6),
    ("Tucson", "AZ", (520,), "857", 32.22, -110.97, 2),
    ("Los Angeles", "CA", (213, 323, 310), "900", 34.05, -118.24, 8),
    ("San Diego", "CA", (619, 858), "921", 32.72, -117.16, 4),
    ("San Jose", "CA", (408,), "951", 37.34, -121.89, 3),
    ("Sacramento", "CA", (916,), "958", 38.58, -121.49, 2),
    ("Denver", "CO", (303, 720), "802", 39.74, -104.99, 4),
    ("Seattle", "WA", (206,), "981", 47.61, -122.33, 4),
    ("Portland", "OR", (503, 971), "972", 45.52, -122.68, 3),
    ("Las Vegas", "NV", (702,), "891", 36.17, -115.14, 3),
    ("Salt Lake City", "UT", (801,), "841", 40.76, -111.89, 2),
    ("Albuquerque", "NM", (505,), "871", 35.08, -106.65, 2),
    ("Oklahoma City", "OK", (405,), "731", 35.47, -97.52, 2),
    ("Kansas City", "MO", (816,), "641", 39.10, -94.58, 2),
    ("St. Louis", "MO", (314,), "631", 38.63, -90.20, 2),
    ("Omaha", "NE", (402,), "681", 41.26, -95.93, 1),
    ("Chicago", "IL", (312, 773, 872), "606", 41.88, -87.63, 7),
    ("Minneapolis", "MN", (612,), "554", 44.98, -93.27, 3),
    ("Milwaukee", "WI", (414,), "532", 43.04, -87.91, 2),
    ("Detroit", "MI", (313,), "482", 42.33, -83.05, 3),
    ("Columbus", "OH", (614,), "432", 39.96, -83.00, 3),
    ("Cleveland", "OH", (216,), "441", 41.50, -81.69, 2),
    ("Indianapolis", "IN", (317,), "462", 39.77, -86.16, 3),
    ("Nashville", "TN", (615,), "372", 36.16, -86.78, 3),
    ("Memphis", "TN", (901,), "381", 35.15, -90.05, 2),
    ("Louisville", "KY", (502,), "402", 38.25, -85.76, 2),
    ("Atlanta", "GA", (404, 678, 770), "303", 33.75, -84.39, 5),
    ("Charlotte", "NC", (704, 980), "282", 35.23, -80.84, 3),
    ("Raleigh", "NC", (919,), "276", 35.78, -78.64, 2),
    ("Miami", "FL", (305, 786), "331", 25.76, -80.19, 5),
    ("Orlando", "FL", (407,), "328", 28.54, -81.38, 3),
    ("Tampa", "FL", (813,), "336", 27.95, -82.46, 3),
    ("Jacksonville", "FL", (904,), "322", 30.33, -81.66, 2),
    ("New Orleans", "LA", (504,), "701", 29.95, -90.07, 2),
    ("Birmingham", "AL", (205,), "352", 33.52, -86.80, 1),
    ("Richmond", "VA", (804,), "232", 37.54, -77.44, 1),
    ("Baltimore", "MD", (410, 443), "212", 39.29, -76.61, 2),
    ("Philadelphia", "PA", (215, 267), "191", 39.95, -75.17, 4),
    ("Pittsburgh", "PA", (412,), "152", 40.44, -79.99, 2),
    ("Boston", "MA", (617, 857), "021", 42.36, -71.06, 3),
    ("Brooklyn", "NY", (718, 347), "112", 40.68, -73.94, 5),
    ("Buffalo", "NY", (716,), "142", 42.89, -78.88, 1),
    ("Boise", "ID", (208,), "837", 43.62, -116.21, 1),
)
SURNAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "O'Brien",
    "McAllister",
    "Okafor",
    "Novak",
    "Schmidt",
    "Russo",
    "Patel",
    "Kim",
]
FIRST_NAMES = [
    "Joe",
    "Mike",
    "Dave",
    "Tony",
    "Carlos",
    "Luis",
    "Maria",
    "Rosa",
    "Linda",
    "Sam",
    "Frank",
    "Eddie",
    "Ray",
    "Rick",
    "Steve",
    "Bill",
    "Nina",
    "Ana",
    "Sofia",
    "Grace",
    "Hector",
    "Miguel",
    "Jose",
    "Danny",
    "Kevin",
    "Amy",
    "Lisa",
    "Tina",
    "Omar",
    "Hugo",
    "Vic",
    "Lou",
    "Sal",
]
SPANISH = ("El Güero", "La Esperanza", "Los Compadres", "El Sol", "Don Pedro", "Las Palmas")
STREETS = (
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Washington Blvd",
    "Park Ave",
    "Lakeview Dr",
    "Sunset Blvd",
    "Industrial Pkwy",
    "Commerce St",
    "Highland Ave",
    "Mill Rd",
    "Church St",
    "Broadway",
    "Market St",
    "2nd St",
    "5th Ave",
    "Riverside Dr",
    "Airport Rd",
)
EMAIL_REPLIES = (
    "This looks great! How much is it per month?",
    "Who made this? Can you call me tomorrow morning?",
    "Nice work. Can you add our hours and a few photos of our trucks?",
    "We already have someone working on a site, but thanks.",
    "Is there a contract or can I cancel anytime?",
    "Love it. What do I need to do to make it live?",
)
SMS_REPLIES = ("Yes interested", "Who is this?", "How much?", "Call me", "Looks good 👍")
BOUNCE_ERROR = "550 5.1.1 The email account that you tried to reach does not exist."
SMS_FAIL_ERROR = "30003: Unreachable destination handset"
# Campaign templates with campaigns.sending's merge fields; messages are rendered with them.
EMAIL_SUBJECT = "{{ business_name }}: we built you a new website"
EMAIL_BODY = (
    "Hi {{ business_name }} team,\n\n"
    "We noticed {{ business_name }} in {{ city }} doesn't have a website of its own, "
    "so we made you one: {{ preview_url }}\n\n"
    "It is yours for $400 + $97/month, hosting and changes included.\n\n"
    "— WebMagic\n{{ sender_address }}\nUnsubscribe: {{ unsubscribe_url }}"
)
FOLLOWUP = {
    "after_days": 3,
    "subject": "Re: {{ business_name }}: we built you a new website",
    "body": (
        "Hi again! Just checking you saw the site we made for {{ business_name }}: "
        "{{ preview_url }}\n\n— WebMagic\n{{ sender_address }}\n"
        "Unsubscribe: {{ unsubscribe_url }}"
    ),
}
SMS_BODY = "We built {{ business_name }} a free website preview: {{ preview_url }}"


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


CATEGORY_CUM = _cumulative(c.weight for c in CATEGORIES)
CITY_CUM = _cumulative(c[6] for c in CITIES)
SOURCE_CUM = _cumulative(w for _, w in SOURCES)
RATINGS = [Decimal(f"{n / 10:.1f}") for n in range(0, 51)]


# ------------------------------------------------------------------------------ writing


class _Table:
    """Rows for one model, written in bulk: COPY on PostgreSQL, bulk_create elsewhere."""

    def __init__(self, model: type[models.Model], start_id: int):
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.names = [f.attname for f in self.fields]
        # JSON values may come already serialised (a str) when many rows share them.
        self.json_at = [i for i, f in enumerate(self.fields) if isinstance(f, models.JSONField)]
        self.json_names = [self.names[i] for i in self.json_at]
        # What Django would store for an omitted field (None, "" or the field's default).
        self.defaults = {f.attname: f.get_default() for f in self.fields if not f.primary_key}
        self.next_id = start_id
        self.rows: list[dict[str, Any]] = []

    def add(self, **values: Any) -> int:
        pk = self.next_id
        self.next_id += 1
        values["id"] = pk
        self.rows.append(values)
        return pk

    def reserve(self) -> int:
        """An id for a row added later with put() (rows that others point at first)."""
        pk = self.next_id
        self.next_id += 1
        return pk

    def put(self, pk: int, row: dict[str, Any]) -> None:
        row["id"] = pk
        self.rows.append(row)

    def flush(self) -> None:
        if not self.rows:
            return
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.copy(connection.connection, self.take())
        else:
            defaults = self.defaults
            for row in self.rows:
                for name in self.json_names:
                    if isinstance(row.get(name), str):
                        row[name] = json.loads(row[name])
            objs = [self.model(**{**defaults, **row}) for row in self.rows]
            self.model.objects.bulk_create(objs, batch_size=500)
        self.rows = []

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def copy(self, raw, rows: list[dict[str, Any]]) -> None:
        """COPY `rows` through `raw`, the psycopg connection of the build's transaction
        (used from the writer thread while the next chunk is being generated)."""
        if not rows:
            return
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in self.fields)
        sql = f"COPY {qn(self.model._meta.db_table)} ({columns}) FROM STDIN"
        json_at = self.json_at
        defaults = {n: self.defaults.get(n) for n in self.names}
        getter = itemgetter(*self.names)
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                values = list(getter({**defaults, **row}))
                for i in json_at:
                    if not isinstance(values[i], str):
                        values[i] = json.dumps(values[i])
                copy.write_row(values)


def _hours(category: Category) -> dict[str, str]:
    weekday, saturday, sunday = category.hours
    hours = {"Monday–Friday": weekday}
    if saturday:
        hours["Saturday"] = saturday
    if sunday:
        hours["Sunday"] = sunday
    return hours


CATEGORY_HOURS = {c.label: (_hours(c), json.dumps(_hours(c))) for c in CATEGORIES}


@cache
def _services(category: Category, first: int) -> tuple[list[str], str]:
    """Three of the trade's services (and their JSON), starting at `first`."""
    n = len(category.services)
    services = [category.services[(first + k) % n] for k in range(3)]
    return services, json.dumps(services)


@cache
def _json(**data: Any) -> str:
    """Event data shared by many rows, serialised once."""
    return json.dumps(data)


def _copy_batch(raw, batch: list[tuple[_Table, list[dict[str, Any]]]]) -> None:
    for table, rows in batch:
        table.copy(raw, rows)


def _pick(rng: random.Random, cum: list[float], items):
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _hex(rng: random.Random, bits: int = 64) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


# ------------------------------------------------------------------------------ the world


@dataclass
class _CampaignWindow:
    pk: int
    channel: str
    start: datetime
    end: datetime  # sends planned before this belong to this campaign
    running: bool


class _World:
    def __init__(self, *, leads: int, seed: int, now: datetime, log: Callable[[str], None]):
        self.total = leads
        self.rng = random.Random(seed)
        self.now = now
        self.log = log
        self.qualified_score = settings.QUALIFIED_SCORE
        self.base_url = settings.PUBLIC_BASE_URL.rstrip("/")
        self.from_email = settings.DEFAULT_FROM_EMAIL
        self.from_phone = getattr(settings, "TWILIO_FROM_NUMBER", "") or "+15125550100"
        self.setup_cents = settings.SETUP_FEE_CENTS
        self.monthly_cents = settings.MONTHLY_PRICE_CENTS
        self.sender_address = settings.SENDER_POSTAL_ADDRESS
        self.sms_sender = settings.SMS_SENDER_NAME
        # campaigns.sending.unsubscribe_url, with the URL reversed and the signer made once.
        self.signer = signing.Signer(salt=UNSUBSCRIBE_SALT)
        self.unsubscribe_at = settings.PUBLIC_BASE_URL + reverse(
            "campaigns:unsubscribe", args=["TOKEN"]
        )
        self.tables = {
            model: _Table(model, _next_id(model))
            for model in (
                Campaign,
                Business,
                Site,
                Message,
                Checkout,
                Customer,
                Subscription,
                Payment,
                Suppression,
                LeadEvent,
            )
        }
        self.slugs: set[str] = set(Site.objects.values_list("slug", flat=True))
        self.slugs.add(ORPHAN_SLUG)
        self.phones: set[int] = {ORPHAN_PHONE_KEY}
        self.kind_cache: dict[str, str] = {}
        self.fold_cache: dict[str, str] = {}
        self.slug_cache: dict[str, str] = {}
        self.score_cache: dict[tuple, tuple[int, str]] = {}
        self.owners: list[int] = []
        self.campaigns: list[_CampaignWindow] = []
        self.purchases = 0

    # --- setup ---------------------------------------------------------------------------

    def staff(self) -> None:
        user_model = get_user_model()
        for username, first, last, group in DEMO_STAFF:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@webmagic.example",
                    "is_staff": True,
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get_or_create(name=group)[0])
            if group == "sales":
                self.owners.append(user.pk)

    def plan_campaigns(self) -> None:
        """Email waves every 12 days (the last one still sending) and three SMS pilots."""
        t = self.tables[Campaign]
        now = self.now
        email_windows = []
        end = now - 8 * DAY
        while end > now - (WORLD_DAYS + 12) * DAY:
            email_windows.append((end - 12 * DAY, end))
            end -= 12 * DAY
        email_windows.reverse()
        email_windows.append((now - 8 * DAY, now + 4 * DAY))
        focus = ("trades", "restaurants", "salons & clinics", "home services", "all categories")
        for n, (start, end) in enumerate(email_windows, 1):
            running = end > now
            name = f"Wave {n} — free preview sites ({focus[n % len(focus)]})"
            pk = t.add(
                name=name,
                channel=Channel.EMAIL,
                audience_query=f"min_score={self.qualified_score}&has_email=yes"
                f"&website_status=generated&created_before={end.date().isoformat()}",
                subject_template=EMAIL_SUBJECT,
                body_template=EMAIL_BODY,
                followups=[FOLLOWUP],
                status=CampaignStatus.SENDING if running else CampaignStatus.COMPLETED,
                scheduled_at=start,
                send_rate_per_minute=30,
                daily_cap=1000,
                created_by_id=self.owners[n % len(self.owners)],
                created_at=start - 2 * HOUR,
                started_at=start,
                completed_at=None if running else end + 4 * DAY,
            )
            self.campaigns.append(_CampaignWindow(pk, Channel.EMAIL, start, end, running))
        sms_end = now - 3 * DAY
        for n, label in enumerate(
            ("SMS pilot — Texas trades", "SMS — restaurants", "SMS — all"), 1
        ):
            start = now - (WORLD_DAYS + 10) * DAY + (n - 1) * 42 * DAY
            end = min(start + 42 * DAY, sms_end)
            pk = t.add(
                name=label,
                channel=Channel.SMS,
                audience_query=f"min_score={self.qualified_score}&has_phone=yes",
                body_template=SMS_BODY,
                status=CampaignStatus.COMPLETED,
                scheduled_at=start,
                send_rate_per_minute=10,
                daily_cap=300,
                created_by_id=self.owners[n % len(self.owners)],
                created_at=start - HOUR,
                started_at=start,
                completed_at=end + DAY,
            )
            self.campaigns.append(_CampaignWindow(pk, Channel.SMS, start, end, False))
        t.flush()

    def unsubscribe_url(self, business_id: int, channel: str) -> str:
        return self.unsubscribe_at.replace("TOKEN", self.signer.sign(f"{business_id}.{channel}"))

    def suppress(self, kind: str, value: str, reason: str, source: str, at: datetime) -> None:
        """A Suppression row, normalised as campaigns.suppression stores it."""
        self.tables[Suppression].add(
            kind=kind, value=value.strip().lower(), reason=reason, source=source, at=at
        )

    def campaign_for(self, channel: str, at: datetime) -> _CampaignWindow | None:
        for window in self.campaigns:
            if window.channel == channel and window.start <= at < window.end:
                return window
        return None

    def orphan_site(self) -> None:
        self.tables[Site].add(
            slug=ORPHAN_SLUG,
            business_id=None,
            status=SiteStatus.PREVIEW,
            status_changed_at=self.now - 200 * DAY,
            template="plumber",
            content=ORPHAN_CONTENT,
            html="",
            preview_url=f"{self.base_url}/p/{ORPHAN_SLUG}/",
            created_at=self.now - 200 * DAY,
            updated_at=self.now - 200 * DAY,
        )

    # --- leads ---------------------------------------------------------------------------

    def folded(self, text: str) -> str:
        found = self.fold_cache.get(text)
        if found is None:
            found = self.fold_cache[text] = fold(text)
        return found

    def slugged(self, text: str) -> str:
        found = self.slug_cache.get(text)
        if found is None:
            found = self.slug_cache[text] = slugify(text)
        return found

    def unique_slug(self, base: str) -> str:
        slug, n = base, 2
        while slug in self.slugs:
            slug = f"{base}-{n}"
            n += 1
        self.slugs.add(slug)
        return slug

    def phone(self, area_codes: tuple[int, ...]) -> tuple[str, str]:
        rng = self.rng
        while True:
            area = area_codes[int(rng.random() * len(area_codes))]
            exchange = 555 if rng.random() < 0.6 else 201 + int(rng.random() * 789)
            line = 100 + int(rng.random() * 9900)
            key = area * 10**7 + exchange * 10**4 + line
            if key not in self.phones and exchange not in (911, 411):
                self.phones.add(key)
                return f"({area}) {exchange}-{line:04d}", f"+1{area}{exchange}{line:04d}"

    def website_kind(self, url: str) -> str:
        host = url.split("/")[2]
        if host.endswith(".example"):  # the demo's own sites: one family, one answer
            host = ".example"
        if host not in self.kind_cache:
            self.kind_cache[host] = scoring.classify_website(url)
        return self.kind_cache[host]

    def score(self, kind, phone, email, rating, reviews, recent, photos) -> tuple[int, str]:
        """crm.scoring's score and breakdown (serialised), memoised on its inputs."""
        key = (kind == "own", bool(phone), bool(email), rating, reviews, recent, photos)
        found = self.score_cache.get(key)
        if found is None:
            points, breakdown = scoring.score(
                website_kind=kind,
                phone=phone,
                email=email,
                rating=rating,
                review_count=reviews,
                recent_review_count=recent,
                photo_count=photos,
            )
            if len(self.score_cache) > 100_000:  # keep memory flat at a million leads
                self.score_cache.clear()
            found = self.score_cache[key] = (points, json.dumps(breakdown))
        return found

    def build(self) -> None:
        """Simulate the leads chunk by chunk. On PostgreSQL one writer thread COPYs a chunk
        while the next one is generated (the server's work overlaps ours); the main thread
        does not touch the connection meanwhile, and waits for the writer before it hands
        over the next chunk, so at most two chunks are in memory and an error in either
        thread ends the build (the caller's transaction rolls everything back)."""
        done = 0
        started = time.monotonic()
        postgres = connection.vendor == "postgresql"
        if postgres:
            connection.ensure_connection()
            raw = connection.connection
        writer = ThreadPoolExecutor(max_workers=1) if postgres else None
        pending = None
        try:
            while done < self.total:
                n = min(CHUNK, self.total - done)
                for _ in range(n):
                    self.lead()
                if writer is not None:
                    batch = [(table, table.take()) for table in self.tables.values()]
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(_copy_batch, raw, batch)
                else:
                    for table in self.tables.values():
                        table.flush()
                done += n
                if self.total >= 50_000:
                    elapsed = time.monotonic() - started
                    self.log(f"  {done:,} / {self.total:,} leads ({elapsed:.0f}s)")
            if pending is not None:
                pending.result()
        finally:
            if writer is not None:
                writer.shutdown(wait=True)

    def lead(self) -> None:  # noqa: C901 — one lead's story, top to bottom
        rng, now = self.rng, self.now
        category = _pick(rng, CATEGORY_CUM, CATEGORIES)
        city, state, areas, zip3, lat, lon, _ = _pick(rng, CITY_CUM, CITIES)
        pattern = category.patterns[int(rng.random() * len(category.patterns))]
        name = pattern.format(
            surname=SURNAMES[int(rng.random() * len(SURNAMES))],
            first=FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))],
            city=city,
            word=category.words[int(rng.random() * len(category.words))],
            spanish=SPANISH[int(rng.random() * len(SPANISH))],
        )
        # crm.normalize.name_city_key and slugify(f"{name} {city}"), per part, memoised.
        city_key = f"{self.folded(name)}|{self.folded(city)}"
        if city_key == ORPHAN_KEY:  # the orphan must stay without a lead
            name += " & Drain"
            city_key = f"{self.folded(name)}|{self.folded(city)}"
        slug = self.unique_slug(f"{self.slugged(name)}-{self.slugged(city)}"[:100].strip("-"))
        compact = slug.replace("-", "")
        created = now - timedelta(seconds=rng.random() * WORLD_DAYS * 86400)
        source = _pick(rng, SOURCE_CUM, SOURCES)[0]

        phone, phone_e164 = self.phone(areas) if rng.random() < P["phone"] else ("", "")
        roll = rng.random()
        website, domain = "", ""
        if roll < 0.32:
            domain = f"{compact}.example"
            website = f"https://www.{domain}/"
        elif roll < 0.44:
            website = f"https://www.facebook.com/{compact}"
        elif roll < 0.51:
            website = f"https://www.instagram.com/{compact}/"
        elif roll < 0.58:
            website = f"https://www.yelp.com/biz/{slug}"
        elif roll < 0.63:
            website = f"https://{category.booking}/{slug}"
        kind = self.website_kind(website) if website else "none"
        email = ""
        if rng.random() < P["email"]:
            if domain:
                email = f"{('info', 'office', 'contact', 'hello')[int(rng.random() * 4)]}@{domain}"
            else:
                email = f"{compact}@{FREEMAIL[int(rng.random() * len(FREEMAIL))]}"
        if rng.random() < 0.07:
            rating, reviews = None, 0
        else:
            rating = RATINGS[min(50, max(20, int(rng.gauss(42, 5))))]
            reviews = int(rng.expovariate(1 / 25)) + 1
        photos = int(rng.expovariate(1 / 9))
        recent = None if rng.random() < 0.3 else min(reviews, int(rng.expovariate(1 / 3)))
        score, breakdown = self.score(kind, phone, email, rating, reviews, recent, photos)
        qualified = score >= self.qualified_score
        hours, hours_json = CATEGORY_HOURS[category.label]
        street = f"{100 + int(rng.random() * 9800)} {STREETS[int(rng.random() * len(STREETS))]}"
        postal = f"{zip3}{1 + int(rng.random() * 99):02d}"
        services, services_json = _services(category, int(rng.random() * len(category.services)))
        latitude = round(lat + rng.uniform(-0.15, 0.15), 6)
        longitude = round(lon + rng.uniform(-0.15, 0.15), 6)
        owner = (
            self.owners[int(rng.random() * len(self.owners))] if rng.random() < P["owner"] else None
        )
        place_id = f"ChIJ{_hex(rng, 96)}" if source != "manual" else None

        lead = _Lead(self, created)
        biz_id = self.tables[Business].next_id
        lead.biz_id = biz_id
        lead.event(
            created,
            K.IMPORTED if source != "manual" else K.CREATED,
            SRC.COMMAND,
            f"Imported from {source}" if source != "manual" else "Lead created by staff",
            _json(source=source),
        )

        # --- the preview site -----------------------------------------------------------
        site_id = None
        site: dict[str, Any] | None = None
        if rng.random() < (P["site_if_qualified"] if qualified else P["site_if_not"]):
            site_at = created + HOUR + timedelta(seconds=rng.random() * 4 * 86400)
            if site_at < now - 10 * MINUTE:
                content = {
                    "name": name,
                    "email": email,
                    "phone": phone,
                    "website": website,
                    "address": street,
                    "city": city,
                    "state": state,
                    "country": "US",
                    "postal_code": postal,
                    "latitude": latitude,
                    "longitude": longitude,
                    "category": category.label,
                    "rating": float(rating) if rating is not None else None,
                    "review_count": reviews,
                    "photo_count": photos,
                    "hours": hours,
                    "services": services,
                    "gmb_place_id": place_id,
                }
                site_id = self.tables[Site].reserve()
                site = {
                    "id": site_id,
                    "slug": slug,
                    "business_id": biz_id,
                    "status": SiteStatus.PREVIEW,
                    "status_changed_at": site_at,
                    "template": category.template,
                    "content": content,
                    "html": "",
                    "preview_url": f"{self.base_url}/p/{slug}/",
                    "created_at": site_at,
                    "updated_at": site_at,
                }
                lead.website(site_at - 20 * timedelta(seconds=1), WS.GENERATING, site_id)
                lead.website(site_at, WS.GENERATED, site_id)
                lead.event(
                    site_at,
                    K.SITE_GENERATED,
                    SRC.SYSTEM,
                    "Preview site generated",
                    {"slug": slug, "template": category.template},
                    site_id=site_id,
                )

        # --- outreach --------------------------------------------------------------------
        sms_consent = None
        contacted = site is not None and rng.random() < (
            P["contact_if_qualified"] if qualified else P["contact_if_not"]
        )
        if phone and rng.random() < P["sms_consent_other"]:
            sms_consent = created + timedelta(seconds=rng.random() * 3600)
        archive_p = P["archived_site"] / (1 - P["contact_if_qualified"])
        if site is not None and not contacted and rng.random() < archive_p:
            archived_at = site["created_at"] + timedelta(days=rng.uniform(1, 20))
            if archived_at < now:
                site.update(status=SiteStatus.ARCHIVED, status_changed_at=archived_at)
                lead.website(archived_at, WS.ARCHIVED, site_id, actor=owner, manual=True)
        if contacted:
            channel = None
            if email and (not phone or rng.random() >= P["sms_channel"]):
                channel = Channel.EMAIL
            elif phone and (email or rng.random() < P["sms_only"]):
                channel = Channel.SMS
                if sms_consent is None:
                    sms_consent = created + timedelta(seconds=rng.random() * 3600)
            send_at = site["created_at"] + 2 * HOUR + timedelta(seconds=rng.random() * 6 * 86400)
            window = self.campaign_for(channel, send_at) if channel else None
            if window is not None:
                address = email if channel == Channel.EMAIL else phone_e164
                lead.outreach(window, channel, send_at, address, site, name, city)
        if sms_consent is not None:
            lead.event(
                sms_consent,
                K.OPT_IN,
                SRC.COMMAND,
                "SMS consent recorded",
                _json(channel="sms", source=source),
            )

        # --- the lead row, with the statuses the events produced ------------------------
        status, status_at, furthest = lead.contact_statuses()
        website_status, website_at = lead.website_status()
        self.tables[Business].add(
            name=name,
            slug=slug,
            email=email,
            phone=phone,
            phone_normalized=phone_e164,
            website=website,
            website_domain=domain,
            website_kind=kind,
            address=street,
            city=city,
            state=state,
            country="US",
            postal_code=postal,
            latitude=latitude,
            longitude=longitude,
            category=category.label,
            rating=rating,
            review_count=reviews,
            photo_count=photos,
            recent_review_count=recent,
            hours=hours_json,
            services=services_json,
            gmb_place_id=place_id,
            name_city_key=city_key,
            owner_id=owner,
            source=source,
            qualification_score=score,
            score_breakdown=breakdown,
            contact_status=status,
            contact_status_changed_at=status_at,
            furthest_contact_status=furthest,
            website_status=website_status,
            website_status_changed_at=website_at,
            last_contacted_at=lead.last_contacted,
            email_opt_out_at=lead.email_opt_out,
            sms_opt_out_at=lead.sms_opt_out,
            sms_consent_at=sms_consent,
            email_bounced_at=lead.bounced,
            do_not_contact_at=None,
            created_at=created,
            updated_at=now,
        )
        if site is not None:
            self.tables[Site].put(site_id, site)
        lead.write_events()


class _Lead:
    """One lead's events, in any order; statuses derived as the lifecycle would."""

    def __init__(self, world: _World, created: datetime):
        self.world = world
        self.created = created
        self.biz_id = 0
        self.events: list[dict[str, Any]] = []
        # (at, contact status, links) — applied in time order with the lifecycle's ranks.
        self.contact: list[tuple[datetime, str, dict[str, Any], str]] = []
        self.websites: list[tuple[datetime, str, int | None, Any, bool]] = []
        self.last_contacted: datetime | None = None
        self.email_opt_out: datetime | None = None
        self.sms_opt_out: datetime | None = None
        self.bounced: datetime | None = None

    def event(self, at, kind, source, summary, data=None, actor=None, **links) -> None:
        self.events.append(
            {
                "kind": kind,
                "at": at,
                "source": source,
                "summary": summary,
                "data": data or "{}",
                "actor_id": actor,
                **links,
            }
        )

    def advance(self, at: datetime, status: str, source: str, **links: Any) -> None:
        self.contact.append((at, status, links, source))

    def website(self, at, status, site_id, actor=None, manual=False) -> None:
        self.websites.append((at, status, site_id, actor, manual))

    def contact_statuses(self) -> tuple[str, datetime, str]:
        status, status_at, furthest = CS.PENDING, self.created, CS.PENDING
        for at, to, links, source in sorted(self.contact, key=lambda c: c[0]):
            if to in ENGAGEMENT_RANK and ENGAGEMENT_RANK[to] > ENGAGEMENT_RANK[furthest]:
                furthest = to
            if CONTACT_RANK[to] > CONTACT_RANK[status]:
                self.event(
                    at,
                    K.CONTACT_STATUS,
                    source,
                    f"Contact status {status} → {to}",
                    _json(old=status, new=to),
                    **links,
                )
                status, status_at = to, at
        return status, status_at, furthest

    def website_status(self) -> tuple[str, datetime]:
        status, status_at = WS.NONE, self.created
        for at, to, site_id, actor, manual in sorted(self.websites, key=lambda w: w[0]):
            data = _json(old=status, new=to, manual=True) if manual else _json(old=status, new=to)
            self.event(
                at,
                K.WEBSITE_STATUS,
                SRC.MANUAL if manual else SRC.SYSTEM,
                f"Website status {status} → {to}",
                data,
                actor=actor if manual else None,
                site_id=site_id,
            )
            status, status_at = to, at
        return status, status_at

    def write_events(self) -> None:
        table = self.world.tables[LeadEvent]
        for ev in sorted(self.events, key=lambda e: e["at"]):
            ev["business_id"] = self.biz_id
            table.add(**ev)

    # --- outreach ------------------------------------------------------------------------

    def outreach(self, window, channel, send_at, address, site, name, city) -> None:
        world = self.world
        now = world.now
        if send_at > now:
            if window.running and send_at < now + 3 * DAY:
                self.message(window, 1, channel, address, site, name, city, planned=send_at)
            return
        outcome = self.message(window, 1, channel, address, site, name, city, sent=send_at)
        if (
            channel == Channel.EMAIL
            and outcome == "delivered"
            and world.rng.random() < P["followup"]
        ):
            follow_at = send_at + timedelta(days=world.rng.uniform(3, 4))
            if follow_at <= now:
                self.message(window, 2, channel, address, site, name, city, sent=follow_at)
            elif window.running:
                self.message(window, 2, channel, address, site, name, city, planned=follow_at)

    def message(self, window, step, channel, address, site, name, city, *, sent=None, planned=None):
        """One outbound message and what the provider and the prospect did with it.
        Returns 'queued', 'bounced', 'failed', 'engaged', 'stopped' or 'delivered'."""
        world, rng, now = self.world, self.world.rng, self.world.now
        messages = world.tables[Message]
        msg_id = messages.reserve()
        token = _hex(rng, 128)
        from_address = world.from_email if channel == Channel.EMAIL else world.from_phone
        subject = body = ""  # a queued message is rendered when it is sent
        if planned is None:
            context = {
                "business_name": name,
                "city": city,
                "category": site["content"]["category"],
                "preview_url": f"{world.base_url}/c/{token}/",
                "unsubscribe_url": world.unsubscribe_url(self.biz_id, channel),
                "sender_address": world.sender_address,
            }
            if channel == Channel.EMAIL:
                subject = render_text(EMAIL_SUBJECT if step == 1 else FOLLOWUP["subject"], context)
                body = render_text(EMAIL_BODY if step == 1 else FOLLOWUP["body"], context)
            else:
                body = f"{world.sms_sender}: {render_text(SMS_BODY, context)} {STOP_TEXT}"
        row: dict[str, Any] = {
            "campaign_id": window.pk,
            "step": step,
            "direction": Direction.OUTBOUND,
            "business_id": self.biz_id,
            "site_id": site["id"],
            "channel": channel,
            "to_address": address,
            "from_address": from_address,
            "subject": subject,
            "body": body,
            "token": token,
        }
        if planned is not None:
            row.update(status=MessageStatus.QUEUED, send_after=planned, created_at=window.start)
            messages.add(**row)
            return "queued"
        links = {"message_id": msg_id}
        sent_id = (
            f"0100018{_hex(rng, 36)}-{_hex(rng, 32)}-000000"
            if channel == Channel.EMAIL
            else f"SM{_hex(rng, 128)}"
        )
        row.update(
            status=MessageStatus.SENT,
            provider_message_id=sent_id,
            created_at=max(window.start, sent - 2 * HOUR),
            sending_started_at=sent - timedelta(seconds=1),
            sent_at=sent,
        )
        self.last_contacted = max(self.last_contacted or sent, sent)
        self.event(
            sent,
            K.MESSAGE_SENT,
            SRC.SYSTEM,
            f"Email sent: {subject}" if channel == Channel.EMAIL else f"SMS sent: {body[:80]}",
            **links,
        )
        self.advance(
            sent, CS.EMAILED if channel == Channel.EMAIL else CS.TEXTED, SRC.SYSTEM, **links
        )
        result = "delivered"
        try:
            if channel == Channel.EMAIL and step == 1 and rng.random() < P["bounce"]:
                at = sent + timedelta(seconds=rng.uniform(1, 90))
                if at > now:
                    return "delivered"
                row.update(status=MessageStatus.BOUNCED, bounced_at=at, error=BOUNCE_ERROR)
                self.bounced = at
                self.event(
                    at,
                    K.BOUNCED,
                    SRC.WEBHOOK,
                    "Email address bounced",
                    {"reason": BOUNCE_ERROR},
                    **links,
                )
                self.advance(at, CS.BOUNCED, SRC.WEBHOOK, **links)
                world.suppress(SuppressionKind.EMAIL, address, "bounced", "anymail", at)
                return "bounced"
            if channel == Channel.SMS and rng.random() < P["sms_fail"]:
                at = sent + timedelta(seconds=rng.uniform(2, 30))
                if at > now:
                    return "delivered"
                row.update(status=MessageStatus.FAILED, failed_at=at, error=SMS_FAIL_ERROR)
                self.event(
                    at, K.MESSAGE_FAILED, SRC.WEBHOOK, "SMS failed: " + SMS_FAIL_ERROR, **links
                )
                return "failed"
            delivered = sent + timedelta(seconds=rng.uniform(2, 120))
            if delivered > now:
                return "delivered"
            row.update(status=MessageStatus.DELIVERED, delivered_at=delivered)
            engaged_at = None
            if channel == Channel.EMAIL:
                if rng.random() < (P["open"] if step == 1 else P["open_followup"]):
                    opened = delivered + timedelta(seconds=rng.expovariate(1 / (8 * 3600)))
                    if opened > now:
                        return "delivered"
                    row.update(opened_at=opened, opened_count=1 + int(rng.expovariate(0.8)))
                    self.advance(opened, CS.OPENED, SRC.WEBHOOK, **links)
                    engaged_at = opened
                    result = "engaged"
                    if rng.random() < P["click_of_open"]:
                        clicked = opened + timedelta(seconds=rng.uniform(30, 2 * 3600))
                        self.click(row, site, clicked, links)
            elif rng.random() < P["sms_click"]:
                clicked = delivered + timedelta(seconds=rng.expovariate(1 / (3 * 3600)))
                result = "engaged"
                self.click(row, site, clicked, links)
            clicked = row.get("clicked_at")
            if clicked is not None:
                engaged_at = clicked
            if channel == Channel.EMAIL:
                reply_p = (
                    P["reply_clicked"] if clicked else (P["reply_opened"] if engaged_at else 0)
                )
            else:
                reply_p = P["sms_reply"]
            base = engaged_at or delivered
            if rng.random() < reply_p:
                self.reply(row, msg_id, base + timedelta(seconds=rng.uniform(600, 2 * 86400)))
                result = "engaged"
            if clicked is not None and rng.random() < P["checkout_of_click"]:
                self.checkout(
                    row, msg_id, site, clicked + timedelta(seconds=rng.uniform(60, 86400))
                )
                return "engaged"
            stop_p = P["unsubscribe"] if channel == Channel.EMAIL else P["sms_stop"]
            if rng.random() < stop_p:
                at = base + timedelta(seconds=rng.uniform(60, 3 * 86400))
                if at <= now:
                    self.opt_out(row, msg_id, channel, address, at)
                    return "stopped"
            return result
        finally:
            messages.put(msg_id, row)

    def click(self, row, site, clicked, links) -> None:
        if clicked > self.world.now:
            return
        rng = self.world.rng
        row.update(clicked_at=clicked, clicked_count=1 + int(rng.expovariate(1.2)))
        self.advance(clicked, CS.CLICKED, SRC.WEBHOOK, **links)
        if site["status"] == SiteStatus.PREVIEW or site.get("first_viewed_at"):
            first = site.get("first_viewed_at")
            if first is None or clicked < first:
                site["first_viewed_at"] = clicked
                self.event(
                    clicked,
                    K.SITE_VIEWED,
                    SRC.PUBLIC,
                    "Preview viewed",
                    {"slug": site["slug"]},
                    site_id=site["id"],
                    **links,
                )
            site["view_count"] = site.get("view_count", 0) + 1 + int(rng.expovariate(0.5))

    def reply(self, row, msg_id, at) -> None:
        world, rng = self.world, self.world.rng
        if at > world.now:
            return
        row["replied_at"] = at
        email = row["channel"] == Channel.EMAIL
        text = (EMAIL_REPLIES if email else SMS_REPLIES)[
            int(rng.random() * len(EMAIL_REPLIES if email else SMS_REPLIES))
        ]
        reply_id = world.tables[Message].add(
            campaign_id=None,
            step=1,
            direction=Direction.INBOUND,
            business_id=self.biz_id,
            site_id=row["site_id"],
            in_reply_to_id=msg_id,
            channel=row["channel"],
            to_address=row["from_address"],
            from_address=row["to_address"],
            subject=("Re: " + row["subject"]) if email else "",
            body=text,
            status=MessageStatus.RECEIVED,
            provider_message_id=(f"inbound-{_hex(rng, 96)}" if email else f"SM{_hex(rng, 128)}"),
            created_at=at,
            read_at=(at + timedelta(seconds=rng.uniform(300, 86400)))
            if at < world.now - 2 * DAY
            else None,
        )
        self.event(
            at, K.REPLY, SRC.WEBHOOK, f"Reply: {text}"[:500], {"text": text}, message_id=reply_id
        )
        self.advance(at, CS.REPLIED, SRC.WEBHOOK, message_id=reply_id)

    def opt_out(self, row, msg_id, channel, address, at) -> None:
        world, rng = self.world, self.world.rng
        if channel == Channel.EMAIL:
            complaint = rng.random() < P["complaint_of_unsub"]
            reason = "complaint" if complaint else "unsubscribe link"
            self.email_opt_out = at
            world.suppress(
                SuppressionKind.EMAIL,
                address,
                "complaint" if complaint else "unsubscribed",
                "anymail" if complaint else "unsubscribe",
                at,
            )
        else:
            reason = "STOP"
            self.sms_opt_out = at
            stop_id = world.tables[Message].add(
                campaign_id=None,
                step=1,
                direction=Direction.INBOUND,
                business_id=self.biz_id,
                site_id=row["site_id"],
                in_reply_to_id=msg_id,
                channel=Channel.SMS,
                to_address=row["from_address"],
                from_address=address,
                body="STOP",
                status=MessageStatus.RECEIVED,
                provider_message_id=f"SM{_hex(rng, 128)}",
                created_at=at,
                read_at=at,
            )
            world.suppress(SuppressionKind.PHONE, address, "stop", "twilio", at)
            msg_id = stop_id
        self.event(
            at,
            K.OPT_OUT,
            SRC.WEBHOOK,
            f"Opted out of {channel} ({reason})",
            {"channel": channel, "reason": reason},
            message_id=msg_id,
        )
        self.advance(at, CS.UNSUBSCRIBED, SRC.WEBHOOK, message_id=msg_id)

    def checkout(self, row, msg_id, site, at) -> None:
        world, rng, now = self.world, self.world.rng, self.world.now
        if at > now:
            return
        checkout_id = world.tables[Checkout].next_id
        provider_id = f"ch_{_hex(rng, 48)}"
        paid_at = at + timedelta(seconds=rng.uniform(120, 3 * 3600))
        paid = rng.random() < P["paid_of_checkout"] and paid_at <= now
        if paid:  # every fifth purchase, from the second on, in quetzales
            world.purchases += 1
            gtq = world.purchases % 5 == 2
        else:
            gtq = rng.random() < P["gtq"]
        currency = "GTQ" if gtq else "USD"
        setup = GTQ_SETUP_CENTS if gtq else world.setup_cents
        monthly = GTQ_MONTHLY_CENTS if gtq else world.monthly_cents
        abandon_after = timedelta(minutes=getattr(settings, "CHECKOUT_ABANDON_MINUTES", 1440))
        abandoned = not paid and at + abandon_after <= now
        world.tables[Checkout].add(
            site_id=site["id"],
            business_id=self.biz_id,
            # Attribution as checkout_create decides it: the message just clicked.
            message_id=msg_id,
            campaign_id=row["campaign_id"],
            provider_checkout_id=provider_id,
            url=f"https://app.recurrente.com/checkout-session/{provider_id}",
            status=CheckoutStatus.PAID
            if paid
            else (CheckoutStatus.ABANDONED if abandoned else CheckoutStatus.OPEN),
            setup_fee_cents=setup,
            monthly_price_cents=monthly,
            currency=currency,
            metadata={
                "checkout_id": checkout_id,
                "site_id": site["id"],
                "business_id": self.biz_id,
                "message_id": msg_id,
            },
            created_at=at,
            paid_at=paid_at if paid else None,
            abandoned_at=at + abandon_after if abandoned else None,
        )
        self.event(
            at,
            K.CHECKOUT,
            SRC.PUBLIC,
            "Checkout started",
            {"currency": currency, "setup_fee_cents": setup, "monthly_price_cents": monthly},
            site_id=site["id"],
            message_id=msg_id,
        )
        self.advance(at, CS.INTERESTED, SRC.PUBLIC, message_id=msg_id, site_id=site["id"])
        if not paid:
            if rng.random() < P["failed_payment_of_unpaid"]:
                failed_at = at + timedelta(seconds=rng.uniform(60, 3600))
                if failed_at <= now:
                    pay_id = world.tables[Payment].add(
                        checkout_id=checkout_id,
                        business_id=self.biz_id,
                        provider_payment_id=f"pa_{_hex(rng, 48)}",
                        amount_cents=setup + monthly,
                        currency=currency,
                        kind=PaymentKind.SETUP,
                        status=PaymentStatus.FAILED,
                        failure_reason="Your card was declined.",
                        created_at=failed_at,
                    )
                    self.event(
                        failed_at,
                        K.PAYMENT,
                        SRC.WEBHOOK,
                        "Payment failed: card declined",
                        {"status": "failed"},
                        payment_id=pay_id,
                    )
            return
        self.purchase(row, checkout_id, site, paid_at, currency, setup, monthly)

    def purchase(self, row, checkout_id, site, paid_at, currency, setup, monthly) -> None:
        world, rng, now = self.world, self.world.rng, self.world.now
        row["converted_at"] = paid_at
        customer_id = world.tables[Customer].add(
            business_id=self.biz_id,
            site_id=site["id"],
            name=site["content"]["name"],
            email=site["content"]["email"],
            provider_customer_id=f"us_{_hex(rng, 48)}",
            created_at=paid_at,
        )
        # billing.charges' shape: one charge for setup + first month, then each renewal.
        charges = purchase_charges(
            setup_fee_cents=setup,
            period_cents=monthly,
            currency=currency,
            paid_at=paid_at,
            until=now,
        )
        sub_id = world.tables[Subscription].add(
            customer_id=customer_id,
            site_id=site["id"],
            checkout_id=checkout_id,
            provider_subscription_id=f"su_{_hex(rng, 48)}",
            status=SubscriptionState.ACTIVE,
            amount_cents=monthly,
            currency=currency,
            current_period_start=charges[-1].at,
            current_period_end=add_interval(charges[-1].at, BillingInterval.MONTH),
            started_at=paid_at,
            status_changed_at=paid_at,
        )
        payments = world.tables[Payment]
        first_payment = None
        for charge in charges:
            pid = payments.add(
                subscription_id=sub_id,
                checkout_id=checkout_id if charge.pays_checkout else None,
                customer_id=customer_id,
                business_id=self.biz_id,
                provider_payment_id=f"pa_{_hex(rng, 48)}",
                amount_cents=charge.amount_cents,
                currency=charge.currency,
                kind=charge.kind,
                status=PaymentStatus.SUCCEEDED,
                paid_at=charge.at,
                created_at=charge.at,
            )
            if charge.pays_checkout:
                first_payment = pid
                continue
            self.event(
                charge.at,
                K.PAYMENT,
                SRC.WEBHOOK,
                "Subscription renewed",
                {"amount_cents": charge.amount_cents, "currency": currency},
                payment_id=pid,
            )
        site.update(
            status=SiteStatus.ACTIVE,
            status_changed_at=paid_at,
            purchased_at=paid_at,
            subscription_status=SubscriptionStatus.ACTIVE,
            subscription_started_at=paid_at,
        )
        self.event(
            paid_at,
            K.PAYMENT,
            SRC.WEBHOOK,
            "Payment succeeded",
            {"amount_cents": setup + monthly, "currency": currency},
            payment_id=first_payment,
            site_id=site["id"],
        )
        self.event(
            paid_at,
            K.SUBSCRIPTION,
            SRC.WEBHOOK,
            "Subscription active",
            {"status": "active"},
            site_id=site["id"],
        )
        self.advance(paid_at, CS.PURCHASED, SRC.WEBHOOK, payment_id=first_payment)
        self.website(paid_at, WS.SOLD, site["id"])


# ------------------------------------------------------------------------------ public API

WORLD_MODELS = (
    Payment,
    Subscription,
    Customer,
    Checkout,
    LeadEvent,
    Message,
    Campaign,
    Suppression,
    Site,
    ProviderEvent,
    ImportRecord,
    ImportBatch,
    Business,
)


def _next_id(model: type[models.Model]) -> int:
    return (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1


def demo_world_exists() -> bool:
    """Whether the database already holds a world (leads, sites or campaigns)."""
    return Business.objects.exists() or Site.objects.exists() or Campaign.objects.exists()


def demo_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in reversed(WORLD_MODELS)}


def demo_reset() -> None:
    """Delete the whole CRM world (user accounts stay). TRUNCATE on PostgreSQL."""
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in WORLD_MODELS)
        with connection.cursor() as cursor:
            # Deferred checks of rows written earlier in this transaction would block it.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    for model in WORLD_MODELS:
        model.objects.all().delete()


BULK_LOAD_FROM = 10_000  # leads; below this a plain load is as fast


@contextmanager
def _bulk_load(tables: list[type[models.Model]]):
    """PostgreSQL, inside the build's transaction: load without secondary indexes, unique
    constraints (primary keys aside) and per-row foreign-key triggers, then rebuild them
    (all undone on error). Building an index once is far cheaper than a million random
    inserts into it.

    The rows are consistent by construction (ids assigned here), and rebuilding a unique
    index or constraint re-checks its rule. Skipping the foreign-key triggers needs a
    superuser; without one each row is checked as it is written."""
    with connection.cursor() as cursor:
        # Deferred checks still pending (e.g. the campaigns) would block CREATE INDEX; run
        # them now, and check any later row at once when the triggers cannot be skipped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # Index builds sort in memory instead of spilling to disk (this transaction only).
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            pass
        definitions: list[tuple[str, str]] = []
        constraints: list[tuple[str, str, str]] = []
        for model in tables:
            table = model._meta.db_table
            cursor.execute(
                "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "WHERE c.conrelid = %s::regclass AND c.contype = 'u' AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid)",
                [table],
            )
            constraints += [(table, name, definition) for name, definition in cursor.fetchall()]
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "WHERE i.schemaname = current_schema() AND i.tablename = %s "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname "
                "AND c.conrelid = %s::regclass)",
                [model._meta.db_table, model._meta.db_table],
            )
            definitions += cursor.fetchall()
        qn = connection.ops.quote_name
        for name, _ in definitions:
            cursor.execute(f"DROP INDEX {qn(name)}")
        for table, name, _ in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
    yield
    with connection.cursor() as cursor:
        for table, name, definition in constraints:
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
        for _, definition in definitions:
            cursor.execute(definition)
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def demo_build(
    *,
    leads: int,
    seed: int = 1,
    now: datetime | None = None,
    reset: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> dict[str, int]:
    """Build the demo world in one transaction. Returns the row counts per model.

    Raises ValueError for a bad lead count. On a database that already has a world,
    pass reset=True (the caller decides; `seed_demo` refuses without --reset)."""
    if leads < 0:
        raise ValueError("--leads must be 0 or more")
    now = (now or timezone.now()).replace(microsecond=0)
    started = time.monotonic()

    def phase(what: str) -> None:
        log(f"  {what} ({time.monotonic() - started:.0f}s)")

    with transaction.atomic():
        if reset:
            demo_reset()
            phase("old world deleted")
        world = _World(leads=leads, seed=seed, now=now, log=log)
        world.staff()
        world.plan_campaigns()
        world.orphan_site()
        bulk = connection.vendor == "postgresql" and leads >= BULK_LOAD_FROM
        with _bulk_load(list(world.tables)) if bulk else nullcontext():
            world.build()
            for table in world.tables.values():
                table.flush()
            if bulk:
                phase("rows written; rebuilding indexes and constraints …")
        if bulk:
            phase("indexes rebuilt")
        # The maintained lead counts (crm.tallies) are fed by triggers that a bulk load
        # skips (and TRUNCATE empties): recount them from the rows just written.
        tally_rebuild()
        if connection.vendor == "postgresql":
            sql = connection.ops.sequence_reset_sql(no_style(), list(world.tables))
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in world.tables)
            with connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)
                cursor.execute(f"ANALYZE {tables}")
        phase("counts recounted, statistics updated; committing")
    return demo_counts()
