"""The staff audit in the Django admin: ended conversations (list, transcript, review, reopen, exports),
user requests (list, resolve) and the audit log. Everything is read-only except the staff actions, which
go through `welfare_admin.audit` and leave an entry each."""

# Each module registers its admin; importing them is what Django's admin autodiscovery needs.
from welfare_admin.admin import conversations, entries, requests

__all__ = ["conversations", "entries", "requests"]
