"""Placeholder: replaced by the members domain's factories."""

import itertools

from purchasing.members.models import Member

_seq = itertools.count(1)


def make_member(session, **kw):
    member = Member(name=kw.get("name", f"Commune {next(_seq)}"))
    session.add(member)
    session.commit()
    return member
