"""Every table, gathered so migrations and schema checks see the whole metadata."""

from tanktop.analytics import tables as analytics_tables
from tanktop.catalog import tables as catalog_tables
from tanktop.db import metadata
from tanktop.events import tables as events_tables
from tanktop.notifications import tables as notifications_tables
from tanktop.oauth import tables as oauth_tables
from tanktop.profiles import tables as profiles_tables
from tanktop.recommendations import tables as recommendations_tables
from tanktop.sections import tables as sections_tables
from tanktop.tenants import tables as tenants_tables

__all__ = [
    "analytics_tables",
    "catalog_tables",
    "events_tables",
    "metadata",
    "notifications_tables",
    "oauth_tables",
    "profiles_tables",
    "recommendations_tables",
    "sections_tables",
    "tenants_tables",
]
