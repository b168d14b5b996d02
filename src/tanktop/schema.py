"""Every table, gathered so migrations and schema checks see the whole metadata."""

from tanktop import auth
from tanktop.db import metadata
from tanktop.profiles import tables as profiles_tables

__all__ = ["auth", "metadata", "profiles_tables"]
