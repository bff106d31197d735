from django import forms

from welfare_admin.models import AuditEntry

NOTE_MAX_LENGTH = 5000


def _note_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=NOTE_MAX_LENGTH,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Verdict",
        choices=[
            (AuditEntry.Action.UPHELD, "Upheld: the end was right"),
            (AuditEntry.Action.MISTAKEN, "Mistaken: the conversation should not have ended"),
        ],
        widget=forms.RadioSelect,
    )
    note = _note_field("Note", "Why: what in the transcript supports the verdict. Kept in the audit log.")


class ReopenForm(forms.Form):
    note = _note_field(
        "Why reopen", "Required. Kept in the audit log; the user is told staff reopened the chat."
    )


class ResolveForm(forms.Form):
    note = _note_field("Staff note", "Required. Saved on each request and in the audit log.")
