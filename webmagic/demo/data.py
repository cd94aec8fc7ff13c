"""The demo world's fixed data: trades, cities, names, the funnel's probabilities, the
campaign templates, and the orphan site that `link_orphan_sites` repairs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

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


def _hours(category: Category) -> dict[str, str]:
    weekday, saturday, sunday = category.hours
    hours = {"Monday–Friday": weekday}
    if saturday:
        hours["Saturday"] = saturday
    if sunday:
        hours["Sunday"] = sunday
    return hours


CATEGORY_HOURS = {c.label: _hours(c) for c in CATEGORIES}
