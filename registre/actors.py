"""Who is acting: a snapshot of an account, reloaded from the database at every action."""

from __future__ import annotations

from dataclasses import dataclass

from registre.models import Account, Role


@dataclass(frozen=True)
class Actor:
    id: int
    username: str
    display_name: str
    email: str
    role: Role
    establishment_id: int | None
    service_id: int | None
    specialty_ids: frozenset[int] = frozenset()
    departements: frozenset[str] = frozenset()
    must_change_password: bool = False

    @classmethod
    def from_account(cls, account: Account) -> Actor:
        return cls(
            id=account.id,
            username=account.username,
            display_name=account.display_name,
            email=account.email,
            role=account.role,
            establishment_id=account.establishment_id,
            service_id=account.service_id,
            specialty_ids=frozenset(s.id for s in account.specialties),
            departements=frozenset(d.departement for d in account.departements),
            must_change_password=account.must_change_password,
        )

    @property
    def role_label(self) -> str:
        return self.role.label
