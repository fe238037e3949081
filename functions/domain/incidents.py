"""Incidents: many customers complaining about the same thing at the same time.

Pure. Every complaint becomes a :class:`Signature` (who, where, when, its
significant terms). When more than ``customers`` (K) distinct customers'
complaints share at least ``min_shared_terms`` (N) terms within ``window`` (W)
of the newest one, that is an incident. The term set that joins the most
customers wins (ties: alphabetical), so every message of a wave computes the
same key. An open incident takes later complaints sharing N of its terms
while it has seen one within W.

Lifecycle: an incident is ``open`` while a complaint joined it within W,
``quiet`` after (computed on read; a quiet incident takes no more complaints,
so a new wave opens a new one), ``resolved`` once staff say so. Complaints up
to a resolve never count towards a new incident on its terms: a new wave
needs more than K customers of its own.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from functions.domain.triage import term_sets


@dataclass(frozen=True)
class IncidentSettings:
    """``[incidents]`` in the policy file."""

    enabled: bool = True
    customers: int = 5  # K: an incident needs MORE than this many distinct customers
    window: timedelta = timedelta(minutes=30)
    min_shared_terms: int = 2


@dataclass(frozen=True)
class Signature:
    message_id: str
    customer: str  # "<platform>:<customer id>": the same person on two platforms counts twice
    conversation_id: str
    at: datetime
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    key: tuple[str, ...]  # the N shared terms that define it
    terms: tuple[str, ...]  # every term all its complaints share (includes key)
    members: tuple[Signature, ...]

    @property
    def customers(self) -> int:
        return len({m.customer for m in self.members})


@dataclass(frozen=True)
class OpenIncident:
    id: str
    terms: tuple[str, ...]
    last_seen: datetime
    resolved_at: Optional[datetime] = None


STATUSES = ("open", "quiet", "resolved")


def status(stored: str, last_seen: datetime, now: datetime, window: timedelta) -> str:
    """``resolved`` as staff set it; else ``quiet`` once no complaint joined for W, else ``open``."""
    if stored == "resolved":
        return "resolved"
    return "quiet" if now - last_seen > window else "open"


def after_resolves(new: Signature, recent: Iterable[Signature], incidents: Iterable[OpenIncident],
                   settings: IncidentSettings) -> list[Signature]:
    """``recent`` without the complaints that came up to the resolve of an incident on ``new``'s terms."""
    cutoff = max((i.resolved_at for i in incidents if i.resolved_at is not None
                  and len(set(i.terms) & set(new.terms)) >= settings.min_shared_terms), default=None)
    return [s for s in recent if cutoff is None or s.at > cutoff]


def detect(new: Signature, recent: Iterable[Signature], settings: IncidentSettings) -> Optional[Cluster]:
    """The cluster ``new`` completes, if more than K distinct customers share N terms with it within W."""
    if len(new.terms) < settings.min_shared_terms:
        return None
    near = {s.message_id: s for s in recent if abs(s.at - new.at) <= settings.window}
    near[new.message_id] = new
    best: Optional[Cluster] = None
    for key in term_sets(new.terms, settings.min_shared_terms):
        members = tuple(sorted((s for s in near.values() if set(key) <= set(s.terms)),
                               key=lambda s: (s.at, s.message_id)))
        customers = len({m.customer for m in members})
        if customers <= settings.customers:
            continue
        if best is None or customers > best.customers:
            shared = set(members[0].terms).intersection(*(m.terms for m in members))
            best = Cluster(key=key, terms=tuple(sorted(shared)), members=members)
    return best


def joins(new: Signature, incidents: Iterable[OpenIncident], settings: IncidentSettings) -> Optional[OpenIncident]:
    """The open incident ``new`` belongs to: N shared terms, and it saw a complaint within W."""
    fitting = [i for i in incidents if i.resolved_at is None
               and len(set(i.terms) & set(new.terms)) >= settings.min_shared_terms
               and new.at - i.last_seen <= settings.window and i.last_seen - new.at <= settings.window]
    return max(fitting, key=lambda i: (len(set(i.terms) & set(new.terms)), i.last_seen), default=None)


def incident_id(cluster: Cluster) -> str:
    """Deterministic from the key and the complaint that opened it: a redelivered stream record finds it again."""
    first = cluster.members[0].message_id
    digest = hashlib.sha256(("|".join(cluster.key) + "#" + first).encode()).hexdigest()
    return "i" + digest[:24]


def bucket(at: datetime, window: timedelta) -> int:
    """The time bucket (of ``window`` length) signatures are kept in; a window spans at most two."""
    return int(at.timestamp() // max(window.total_seconds(), 1))
