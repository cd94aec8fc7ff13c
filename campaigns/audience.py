"""A campaign's audience: the lead FilterSet over the frozen query string (or the explicit
selection of ids), minus the leads that must not get it, each exclusion with its reason.

Everything here is set-based: the reason of every lead is one CASE expression, so the
preview counts all reasons in a single GROUP BY and the start inserts the eligible rows
with one INSERT … SELECT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Lower, StrIndex, Substr
from django.http import QueryDict
from django.utils import timezone

from campaigns import policy
from campaigns.models import Campaign, Channel, Message, Suppression, SuppressionKind
from campaigns.sending import REASONS, template_fields
from crm.contact import FORMULA_START
from crm.filters import FILTER_NAMES, lead_filterset
from crm.models import Business, ContactStatus
from sites.models import Site, SiteStatus

MAX_DB_INT = 2**63 - 1


class AudienceError(ValueError):
    """The filter parameters are invalid; `errors` maps each bad parameter to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def audience_query_from(params) -> str:
    """The FilterSet parameters of `params` as a canonical query string (what is frozen)."""
    getlist = (
        params.getlist
        if hasattr(params, "getlist")
        else lambda k: _as_list(params.get(k))  # a plain dict, e.g. the API's `filters`
    )
    pairs = []
    for name in FILTER_NAMES:
        for value in getlist(name):
            if value not in ("", None):
                pairs.append((name, str(value)))
    return urlencode(pairs)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def audience_base(
    *, audience_query: str = "", audience_ids: list[int] | None = None, user=None
) -> QuerySet[Business]:
    """The leads the staff chose, before exclusions. Raises AudienceError on bad filters."""
    if audience_ids:
        return Business.objects.filter(pk__in=[int(i) for i in audience_ids])
    filterset = lead_filterset(QueryDict(audience_query), user=user)
    if not filterset.is_valid():
        raise AudienceError({k: [str(e) for e in v] for k, v in filterset.errors.items()})
    # A number the database cannot hold (an owner or campaign id past bigint) is bad input,
    # not a server error.
    too_big = {
        name: ["Number out of range."]
        for name, value in filterset.form.cleaned_data.items()
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
        and abs(value) > MAX_DB_INT
    }  # fmt: skip
    if too_big:
        raise AudienceError(too_big)
    return filterset.qs


def _formula_email() -> Q:
    q = Q()
    for start in FORMULA_START:
        q |= Q(email__startswith=start)
    return q


def _email_domain():
    return Lower(Substr("email", StrIndex("email", Value("@")) + 1))


def sms_address_expression():
    """The number a text goes to: the E.164 form (a phone without one is not valid)."""
    return F("phone_normalized")


def site_current(business) -> QuerySet[Site]:
    """The lead's live sites (not archived), newest first: the first is the one a pitch links."""
    return (
        Site.objects.filter(business_id=business)
        .exclude(status=SiteStatus.ARCHIVED)
        .order_by("-created_at", "-pk")
    )


def site_subquery():
    """The lead's current site (newest that is not archived): the preview the pitch links."""
    return Subquery(site_current(OuterRef("pk")).values("pk")[:1])


# Lead columns a merge field renders (campaigns.sending.MERGE_FIELDS) that may be blank: a
# message using one of them is not sent with a hole in its sentence.
BLANKABLE_FIELDS = {"city": "city", "category": "category"}


def exclusion_reason_expression(
    *,
    channel: str,
    campaign: Campaign | None = None,
    now: datetime | None = None,
    fields: set[str] = frozenset(),
    override: bool = False,
    check_existing: bool = True,
    cooldown: bool | None = None,
) -> Case:
    """One CASE giving each lead its first exclusion reason, or NULL when it is eligible.
    The order is REASONS's order; `refusal_reason` checks the same rules one lead at a time.

    `fields` are the merge fields the campaign's templates use (a lead that would render one
    of them empty is excluded); `override` drops the contact policy's "held by another
    campaign" rule and, unless `cooldown` says otherwise, its "contacted recently" rule (the
    campaign's cooldown override, campaigns.policy)."""
    now = now or timezone.now()
    whens: list[When] = []
    if channel == Channel.EMAIL:
        suppressed = Exists(
            Suppression.objects.filter(kind=SuppressionKind.EMAIL, value=Lower(OuterRef("email")))
        ) | Exists(
            Suppression.objects.filter(kind=SuppressionKind.DOMAIN, value=OuterRef("email_domain_"))
        )
        whens += [
            When(email="", then=Value("no_email")),
            # Stored before validation (crm.contact); clean_contact_data drops these.
            When(_formula_email(), then=Value("invalid_email")),
            When(do_not_contact_at__isnull=False, then=Value("do_not_contact")),
            When(suppressed, then=Value("suppressed")),
            When(email_opt_out_at__isnull=False, then=Value("email_opted_out")),
            When(
                Q(email_bounced_at__isnull=False) | Q(contact_status=ContactStatus.BOUNCED),
                then=Value("bounced"),
            ),
        ]
    else:
        suppressed = Exists(
            Suppression.objects.filter(kind=SuppressionKind.PHONE, value=OuterRef("to_sms_"))
        )
        whens += [
            When(phone="", then=Value("no_phone")),
            When(phone_normalized="", then=Value("invalid_phone")),
            When(do_not_contact_at__isnull=False, then=Value("do_not_contact")),
            When(suppressed, then=Value("suppressed")),
            When(sms_opt_out_at__isnull=False, then=Value("sms_opted_out")),
            When(sms_consent_at__isnull=True, then=Value("no_sms_consent")),
        ]
    whens.append(
        When(
            Q(contact_status=ContactStatus.PURCHASED)
            | Q(furthest_contact_status=ContactStatus.PURCHASED),
            then=Value("purchased"),
        )
    )
    whens.append(
        When(
            contact_status=ContactStatus.UNSUBSCRIBED,
            then=Value("email_opted_out" if channel == Channel.EMAIL else "sms_opted_out"),
        )
    )
    for name, column in BLANKABLE_FIELDS.items():
        if name in fields:
            whens.append(When(**{column: ""}, then=Value(f"empty_{name}")))
    if check_existing and campaign is not None and campaign.pk:
        whens.append(
            When(
                Exists(Message.objects.filter(campaign_id=campaign.pk, business_id=OuterRef("pk"))),
                then=Value("in_campaign"),
            )
        )
    if not override:
        whens.append(When(holder_campaign__isnull=False, then=Value(policy.IN_OTHER_CAMPAIGN)))
    if (not override) if cooldown is None else cooldown:
        whens.append(When(policy.contacted_recently(now), then=Value(policy.COOLDOWN)))
    return Case(*whens, default=Value(None), output_field=CharField())


def with_reason(
    qs: QuerySet[Business],
    *,
    channel: str,
    campaign: Campaign | None = None,
    now=None,
    fields: set[str] = frozenset(),
    override: bool = False,
    check_existing: bool = True,
    cooldown: bool | None = None,
) -> QuerySet[Business]:
    now = now or timezone.now()
    if channel == Channel.EMAIL:
        qs = qs.annotate(email_domain_=_email_domain())
    else:
        qs = qs.annotate(to_sms_=sms_address_expression())
    if not override:
        qs = qs.annotate(holder_campaign=policy.holder_subquery(campaign=campaign, now=now))
    return qs.annotate(
        exclusion=exclusion_reason_expression(
            channel=channel,
            campaign=campaign,
            now=now,
            fields=fields,
            override=override,
            check_existing=check_existing,
            cooldown=cooldown,
        )
    )


def campaign_fields(campaign: Campaign) -> set[str]:
    """The merge fields every step of the campaign uses."""
    texts = [campaign.subject_template, campaign.body_template]
    for spec in campaign.followups or []:
        texts += [spec.get("subject") or "", spec.get("body") or ""]
    return template_fields(*texts)


def audience_eligible(
    *, campaign: Campaign, now: datetime | None = None, user=None, for_insert: bool = False
):
    """The leads that will get the campaign's first message (what start freezes).

    `for_insert=True` is the start's INSERT … SELECT into campaigns_message: it leaves out
    the two rules that read that table per lead, "already in this campaign" (the start
    inserts only for a draft, which has no messages; the unique constraint backs that up)
    and "held by another campaign" (the INSERT anti-joins a snapshot of the held leads,
    campaigns.policy.held_leads, taken before it writes). Read per lead inside the INSERT,
    they can make PostgreSQL, whose statistics say the table is empty, walk every row the
    statement has inserted so far for each lead (minutes for 100,000 recipients)."""
    base = audience_base(
        audience_query=campaign.audience_query, audience_ids=campaign.audience_ids, user=user
    )
    return with_reason(
        base,
        channel=campaign.channel,
        campaign=campaign,
        now=now,
        fields=campaign_fields(campaign),
        override=policy.overridden(campaign) or for_insert,
        check_existing=not for_insert,
        cooldown=not policy.overridden(campaign),
    ).filter(exclusion__isnull=True)


@dataclass
class AudiencePreview:
    total: int
    eligible: int
    excluded: dict[str, int]
    sample: list[Business] = field(default_factory=list)
    # Leads held by other campaigns (the contact policy), per campaign: id → count, and names.
    holders: dict[int, int] = field(default_factory=dict)
    holder_names: dict[int, str] = field(default_factory=dict)
    # Eligible leads without a live preview site, generated before their pitch goes out
    # (when the templates link it with {{ preview_url }}).
    sites_to_generate: int = 0

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    def excluded_rows(self) -> list[dict]:
        rows = []
        for reason in REASONS:
            if not self.excluded.get(reason):
                continue
            if reason == policy.IN_OTHER_CAMPAIGN and self.holders:
                for pk, n in sorted(self.holders.items(), key=lambda kv: (-kv[1], kv[0])):
                    name = self.holder_names.get(pk, f"#{pk}")
                    label = policy.in_other_campaign_label(name)
                    rows.append({"reason": reason, "label": label, "count": n, "campaign": pk})
                continue
            label = REASONS[reason]
            rows.append(
                {"reason": reason, "label": label, "count": self.excluded[reason], "campaign": None}
            )
        return rows


def audience_preview(
    *,
    channel: str,
    audience_query: str = "",
    audience_ids: list[int] | None = None,
    campaign: Campaign | None = None,
    user=None,
    sample_size: int = 10,
    now: datetime | None = None,
    templates: tuple[str, ...] = (),
    override: bool = False,
) -> AudiencePreview:
    """How many leads will get it, how many are excluded and why (one row per other campaign
    holding leads), how many preview sites will be generated first, and a sample.

    `templates` are the subject and body texts (follow-ups included) the campaign will send;
    `override` previews the campaign with its cooldown overridden."""
    now = now or timezone.now()
    fields = template_fields(*templates)
    base = audience_base(audience_query=audience_query, audience_ids=audience_ids, user=user)
    annotated = with_reason(
        base, channel=channel, campaign=campaign, now=now, fields=fields, override=override
    )
    keys = ["exclusion"]
    if not override:
        keys.append("holder_campaign")
    if "preview_url" in fields:
        annotated = annotated.annotate(no_site_=~Exists(site_current(OuterRef("pk"))))
        keys.append("no_site_")
    rows = annotated.order_by().values(*keys).annotate(n=Count("pk")).values_list(*keys, "n")
    preview = AudiencePreview(total=0, eligible=0, excluded={})
    for row in rows:
        found = dict(zip(keys, row[:-1], strict=True))
        n = row[-1]
        preview.total += n
        reason = found["exclusion"]
        if reason is None:
            preview.eligible += n
            if found.get("no_site_"):
                preview.sites_to_generate += n
            continue
        preview.excluded[reason] = preview.excluded.get(reason, 0) + n
        if reason == policy.IN_OTHER_CAMPAIGN and found.get("holder_campaign"):
            holder = found["holder_campaign"]
            preview.holders[holder] = preview.holders.get(holder, 0) + n
    preview.holder_names = dict(
        Campaign.objects.filter(pk__in=preview.holders).values_list("pk", "name")
    )
    preview.sample = list(
        annotated.filter(exclusion__isnull=True).order_by("-qualification_score", "pk")[
            :sample_size
        ]
    )
    return preview
