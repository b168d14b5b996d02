"""The profiles domain's answer: a profile is the service's own JSON object plus our `id`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tanktop.bodies import JsonObject


class Profile(BaseModel):
    """A user's profile: whatever JSON object the service stored, with the user id under `id`.

    Its other keys are the model's extra fields (`model_extra`), kept as the parsed JSON they
    are (the body parser and the database already checked them; validating a 64 KiB profile
    again would double what reading it costs)."""

    model_config = ConfigDict(extra="allow")

    id: str

    @classmethod
    def of(cls, user_id: str, data: JsonObject) -> Profile:
        """The profile of `user_id` holding `data` (whose own `id`, if any, is the same)."""
        return cls.model_validate({**data, "id": user_id})
