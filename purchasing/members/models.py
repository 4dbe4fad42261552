"""Placeholder: replaced by the members domain's models."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from purchasing.db import Base


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


__all__ = ["Member"]
