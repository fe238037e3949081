"""Incidents: many customers complaining about the same thing at the same time.

Pure. Every complaint becomes a :class:`Signature` (who, where, when, its
significant terms). When more than ``customers`` (K) distinct customers'
complaints share at least ``min_shared_terms`` (N) terms within ``window`` (W)
of the newest one, that is an incident. The term set that joins the most
customers wins (ties: alphabetical), so every message of a wave computes the
same key. An open incident takes later complaints sharing N of its terms
while it has seen one within W.
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
    fitting = [i for i in incidents if len(set(i.terms) & set(new.terms)) >= settings.min_shared_terms
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
