"""Who may do what. The "Welfare auditors" group (a data migration) holds VIEW, REVIEW and RESOLVE;
REOPEN is granted person by person. Superusers hold everything."""

from django.contrib.auth.models import AnonymousUser

from accounts.models import User

VIEW = "welfare_admin.view_endedconversation"
REVIEW = "welfare_admin.review_conversation"
REOPEN = "welfare_admin.reopen_conversation"
VIEW_REQUESTS = "welfare_admin.view_welfarerequest"
RESOLVE = "welfare_admin.resolve_request"

AUDITORS_GROUP = "Welfare auditors"


def can_audit(user: User | AnonymousUser) -> bool:
    """May see transcripts, requests and the dashboard."""
    return bool(user.is_active and user.is_staff and user.has_perm(VIEW))
