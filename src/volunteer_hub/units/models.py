from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import Base, TimestampMixin


class UnitLevel(enum.StrEnum):
    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    DISTRICT = "district"  # 区/县
    STREET = "street"  # 街道/乡镇
    COMMUNITY = "community"  # 社区/村


class Unit(TimestampMixin, Base):
    """A node of the administrative tree: 湖北省 › 武汉市 › 区 › 街道 › 社区."""

    __tablename__ = "unit"
    __table_args__ = (
        Index("ix_unit_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[UnitLevel] = mapped_column(String(20))
    #: ids from the root down to this unit, "/1/4/17/": the subtree is ``path LIKE '/1/4/%'``
    path: Mapped[str] = mapped_column(String(255), default="")

    parent: Mapped[Unit | None] = relationship(remote_side=[id], lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.name}>"
