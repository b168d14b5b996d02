"""What each console page shows, composed from the other domains' services (never their
tables): the console adds no rule of its own beyond who may see what."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from tanktop.analytics import service as analytics
from tanktop.analytics.buckets import buckets
from tanktop.analytics.schemas import TopItem
from tanktop.analytics.service import Engagement
from tanktop.bookmarks import service as bookmarks
from tanktop.bookmarks.schemas import Bookmark
from tanktop.catalog import service as catalog
from tanktop.catalog.facts import CatalogFacts
from tanktop.console import charts
from tanktop.console.charts import Chart
from tanktop.db import Database, utcnow
from tanktop.errors import NotFound
from tanktop.events import service as events
from tanktop.events.service import ActiveUser, EventWriter, HistoryPage, ListItem
from tanktop.notifications import service as notifications
from tanktop.notifications.schemas import Delivery, Notification
from tanktop.notifications.service import RequestPage, WebhookHealth
from tanktop.oauth import service as oauth
from tanktop.oauth.schemas import ConnectedApp
from tanktop.oauth.service import ClientInfo
from tanktop.profiles import service as profiles
from tanktop.profiles.schemas import Profile
from tanktop.recommendations import service as recs
from tanktop.recommendations.service import ModelCache, Recommendation
from tanktop.sections import service as sections
from tanktop.sections.context import PageSources
from tanktop.sections.popular import PopularCopy
from tanktop.sections.schemas import Row, Section
from tanktop.tenants import service as tenants
from tanktop.tenants.service import KeyInfo, SecretInfo, Service

ItemKey = tuple[str, str]
LIST_ORDER = ("progress", "watchlist", "seen", "rated", "hide")
"""The lists people look for first; any other event's list follows in name order."""


async def labels_of(db: Database, *, keys: Iterable[ItemKey]) -> dict[ItemKey, str]:
    """Catalog names of the items a page shows (programmes of episodes included)."""
    return await catalog.labels(db, keys=list(keys))


OVERVIEW_DAYS = 30


@dataclass(frozen=True)
class TopEntry:
    label: str
    item: TopItem


@dataclass(frozen=True)
class Overview:
    """The last 30 days of a service, from the analytics rollups and the webhook log."""

    events: int
    deliveries: dict[str, int]
    active: list[ActiveUser]
    keys: int
    charts: list[Chart]
    top: list[TopEntry]
    engagement: list[Engagement]
    webhooks: WebhookHealth
    active_yesterday: int


async def overview(db: Database, service: Service) -> Overview:
    now = utcnow()
    start = now - dt.timedelta(days=OVERVIEW_DAYS - 1)
    days = buckets(start, now, "day", None)
    series = await analytics.event_series(db, service, bks=days)
    activity = await analytics.user_activity(db, service, bks=days)
    top = await analytics.top_items(
        db, service, item_type="movie", event="seen", start=start, end=now, n=10
    )
    labels = await labels_of(db, keys=[("movie", t.item_id) for t in top])
    health = await notifications.webhook_health(db, service, days=14)
    return Overview(
        events=await events.count_history(db, service.id),
        deliveries=await notifications.delivery_counts(db, service),
        active=await events.recent_users(db, service, n=8),
        keys=sum(not k.revoked for k in await tenants.list_keys(db, service_id=service.id)),
        charts=[
            charts.events_by_type(series),
            charts.active_users(activity),
            charts.webhook_outcomes(health.days),
        ],
        top=[TopEntry(labels.get(("movie", t.item_id), t.item_id), t) for t in top],
        engagement=await analytics.engagement(db, service, start=start, end=now),
        webhooks=health,
        active_yesterday=activity[-2].active if len(activity) > 1 else 0,
    )


@dataclass(frozen=True)
class ServiceKeys:
    service: Service
    keys: list[KeyInfo]
    secrets: list[SecretInfo]


async def service_keys(db: Database, *, services: list[Service]) -> list[ServiceKeys]:
    return [
        ServiceKeys(
            s, await tenants.list_keys(db, service_id=s.id), await tenants.secrets_of(db, s.id)
        )
        for s in services
    ]


@dataclass(frozen=True)
class UserView:
    user_id: str
    profile: Profile | None
    lists: dict[str, list[ListItem]]
    history: HistoryPage
    bookmarks: list[Bookmark]
    recommendations: list[Recommendation]
    notifications: list[Notification]
    labels: dict[ItemKey, str]

    @property
    def known(self) -> bool:
        """Whether the service has anything at all for this user."""
        return bool(self.profile or self.lists or self.history.events or self.notifications)


def _grouped(items: list[ListItem]) -> dict[str, list[ListItem]]:
    lists: dict[str, list[ListItem]] = {}
    for item in items:
        lists.setdefault(item.event, []).append(item)
    order = {name: i for i, name in enumerate(LIST_ORDER)}
    return dict(sorted(lists.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _reason_keys(recommendations: list[Recommendation]) -> list[ItemKey]:
    return [
        (r.item_type, r.item_id)
        for rec in recommendations
        for r in rec.reasons
        if isinstance(r.item_type, str) and isinstance(r.item_id, str)
    ]


async def user_view(
    db: Database,
    service: Service,
    *,
    user_id: str,
    facts: CatalogFacts,
    models: ModelCache,
) -> UserView:
    """Everything the service holds on one user, as its own API would answer."""
    try:
        profile: Profile | None = await profiles.get_profile(db, service, user_id=user_id)
    except NotFound:
        profile = None
    items = await events.all_user_items(db, service, user_id=user_id)
    history = await events.user_history(db, service, user_id=user_id)
    marks = await bookmarks.bookmarks(db, service, user_id=user_id, facts=facts)
    recommended = await recs.recommend(
        db,
        service,
        cache=models,
        user_id=user_id,
        item_type=None,
        n=10,
        availability=catalog.Availability(),
    )
    requests = await notifications.list_requests(db, service, user_id=user_id)
    keys = [
        *((i.item_type, i.item_id) for i in items),
        *((e.item_type, e.item_id) for e in history.events),
        *((b.item_type, b.item_id) for b in marks),
        *(("episode", b.episode_id) for b in marks if isinstance(b.episode_id, str)),
        *((r.item_type, r.item_id) for r in recommended),
        *_reason_keys(recommended),
        *((r.item_type, r.item_id) for r in requests),
    ]
    return UserView(
        user_id,
        profile,
        _grouped(items),
        history,
        marks,
        recommended,
        requests,
        await labels_of(db, keys=keys),
    )


@dataclass(frozen=True)
class HistoryView:
    user_id: str
    history: HistoryPage
    labels: dict[ItemKey, str]


async def history_view(
    db: Database, service: Service, *, user_id: str, before: str | None
) -> HistoryView:
    history = await events.user_history(db, service, user_id=user_id, before=before)
    labels = await labels_of(db, keys=((e.item_type, e.item_id) for e in history.events))
    return HistoryView(user_id, history, labels)


@dataclass(frozen=True)
class NotificationsView:
    page: RequestPage
    counts: dict[str, int]
    status: str | None
    labels: dict[ItemKey, str]


async def notifications_view(
    db: Database, service: Service, *, status: str | None, cursor: str | None
) -> NotificationsView:
    page = await notifications.service_requests(db, service, status=status, cursor=cursor)
    labels = await labels_of(db, keys=((r.item_type, r.item_id) for r in page.requests))
    return NotificationsView(page, await notifications.delivery_counts(db, service), status, labels)


@dataclass(frozen=True)
class RequestView:
    user_id: str
    item_type: str
    item_id: str
    request: Notification
    deliveries: list[Delivery]
    label: str

    @property
    def resendable(self) -> bool:
        return any(d.status == "failed" for d in self.deliveries)


async def request_view(
    db: Database, service: Service, *, user_id: str, item_type: str, item_id: str
) -> RequestView:
    """One notification request with every delivery and attempt; 404 when there is none."""
    address = {"user_id": user_id, "item_type": item_type, "item_id": item_id}
    found = await notifications.list_requests(db, service, **address)
    if not found:
        raise NotFound(f"No notification request of {user_id!r} for {item_type} {item_id!r}.")
    log = await notifications.delivery_log(db, service, **address)
    labels = await labels_of(db, keys=[(item_type, item_id)])
    return RequestView(
        user_id, item_type, item_id, found[0], log, labels.get((item_type, item_id), item_id)
    )


@dataclass(frozen=True)
class SectionPageView:
    """A user's section page as the service's rules order and fill it (the rows their app
    would get, impressions not recorded), and what they have hidden."""

    user_id: str
    shown: list[Section]
    hidden: list[Section]
    pinned: set[str]
    rows: dict[str, Row]
    """The filled rows by section id; a section without one is empty for this user."""
    labels: dict[ItemKey, str]


PREVIEW_ITEMS = 8


async def section_page_view(
    db: Database, service: Service, *, user_id: str, facts: CatalogFacts, models: ModelCache
) -> SectionPageView:
    shown = await sections.user_sections(db, service, user_id=user_id)
    prefs = await sections.section_prefs(db, service, user_id=user_id)
    defined = await sections.definitions(db, service)
    hidden = [s for s in defined if s.section_id in prefs.hidden]
    filled = await sections.page(
        db,
        service,
        user_id=user_id,
        sources=PageSources(facts, models, PopularCopy(0), catalog.Availability()),
        rows=len(shown),
        items=PREVIEW_ITEMS,
    )
    rows = {str(row.section_id): row for row in filled.sections}
    keys = [(i.item_type, str(i.item_id)) for row in filled.sections for i in row.items]
    labels = await labels_of(db, keys=keys)
    return SectionPageView(user_id, shown, hidden, set(prefs.pins), rows, labels)


async def set_section_hidden(
    db: Database,
    service: Service,
    *,
    writer: EventWriter,
    user_id: str,
    section_id: str,
    hidden: bool,
) -> None:
    """Hide a section from the user's page (a `hide` section event), or bring it back, as
    the app would with `POST`/`DELETE /event/<userid>/hide/section/<sectionid>/`."""
    await sections.get_section(db, service, section_id=section_id)  # 404 for an unknown one
    op = (
        events.new_op(
            service,
            user_id=user_id,
            event="hide",
            item_type="section",
            item_id=section_id,
            value=None,
            origin="posted",
        )
        if hidden
        else events.removal_op(
            service, user_id=user_id, event="hide", item_type="section", item_id=section_id
        )
    )
    await events.record(writer, ops=[op])


async def move_section(db: Database, service: Service, *, section_id: str, offset: int) -> None:
    """Move a section `offset` places (up: negative) in the service's order, storing every
    definition with its new position (a service on the default page gets it as its own)."""
    ordered = await sections.definitions(db, service)
    ids = [str(s.section_id) for s in ordered]
    if section_id not in ids:
        raise NotFound(f"No section {section_id!r}.")
    at = ids.index(section_id)
    to = max(0, min(len(ordered) - 1, at + offset))
    ordered.insert(to, ordered.pop(at))
    for position, section in enumerate(ordered):
        body = section.model_dump(mode="json", exclude={"section_id"}) | {"position": position}
        await sections.put_section(db, service, section_id=str(section.section_id), body=body)


@dataclass(frozen=True)
class OAuthView:
    """A service's authorization server (None: not enabled) and its registered apps."""

    service: Service
    login_url: str | None
    verification_url: str | None
    clients: list[ClientInfo]


async def oauth_view(db: Database, service: Service) -> OAuthView:
    try:
        server = await oauth.oauth_service(db, name=service.name)
    except NotFound:
        return OAuthView(service, None, None, [])
    clients = await oauth.list_clients(db, service_name=service.name)
    return OAuthView(service, server.login_url, server.verification_url, clients)


async def connected_apps(db: Database, service: Service, *, user_id: str) -> list[ConnectedApp]:
    return await oauth.connected_apps(db, service, user_id=user_id)
