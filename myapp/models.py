"""The application's ORM: a network of observation stations.

A network runs stations; a station's position and instruments change over
time, so every observation hangs off a *station history* row (where the
station was, from when to when) and a *variable* (what was measured).

This module is the schema's present tense. ``bootstrap`` builds it with
``metadata.create_all()``; the revisions in ``myapp/db/migrations/versions``
build the same thing step by step, and the tests check that both agree
column for column. Columns a revision adds go at the end of their class so
the two column orders stay equal.
"""

from __future__ import annotations

import datetime
from typing import List, Optional

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so revisions can drop what create_all made.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Network(Base):
    """An organisation that operates stations."""

    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Added by revision d5e6f7a8b9c0: ISO 3166-1 alpha-2.
    country_code: Mapped[Optional[str]] = mapped_column(String(2))

    stations: Mapped[List["Station"]] = relationship(back_populates="network")
    variables: Mapped[List["Variable"]] = relationship(back_populates="network")


class Station(Base):
    """A place where a network measures; its code is unique within the network."""

    __tablename__ = "stations"
    __table_args__ = (UniqueConstraint("network_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))

    network: Mapped[Network] = relationship(back_populates="stations")
    histories: Mapped[List["StationHistory"]] = relationship(back_populates="station")


class StationHistory(Base):
    """Where a station stood, and with what elevation, over a span of time."""

    __tablename__ = "station_histories"
    __table_args__ = (
        CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name="valid_span"
        ),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(
        ForeignKey("stations.id", ondelete="CASCADE"), index=True
    )
    valid_from: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[Optional[datetime.datetime]] = mapped_column(
        DateTime(timezone=True)
    )
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    elevation_m: Mapped[Optional[float]] = mapped_column(Float)

    station: Mapped[Station] = relationship(back_populates="histories")
    observations: Mapped[List["Observation"]] = relationship(back_populates="history")


class Variable(Base):
    """A measured quantity (air temperature, precipitation...) and its unit."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("network_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(32))
    description: Mapped[Optional[str]] = mapped_column(Text)

    network: Mapped[Network] = relationship(back_populates="variables")
    observations: Mapped[List["Observation"]] = relationship(back_populates="variable")


class Observation(Base):
    """One value of one variable at one station history, at one moment."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("history_id", "variable_id", "observed_at"),
        # Revision e3c9a4f1d8b6 replaced the index on variable_id alone.
        Index("ix_observations_variable_id_observed_at", "variable_id", "observed_at"),
        CheckConstraint(
            "quality IN ('raw', 'checked', 'rejected')", name="quality_known"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    history_id: Mapped[int] = mapped_column(
        ForeignKey("station_histories.id", ondelete="CASCADE")
    )
    variable_id: Mapped[int] = mapped_column(ForeignKey("variables.id"))
    observed_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float)
    # Added by revision b7d41e9a0c52, which marks existing rows 'raw'.
    quality: Mapped[str] = mapped_column(String(16), server_default=text("'raw'"))

    history: Mapped[StationHistory] = relationship(back_populates="observations")
    variable: Mapped[Variable] = relationship(back_populates="observations")


metadata = Base.metadata
