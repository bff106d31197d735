from allauth.core import ratelimit
from django import forms
from django.conf import settings
from django.http import HttpRequest


class TooManyAttempts(forms.ValidationError):
    pass


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request: HttpRequest, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = request.user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # A stolen session must not become a way to guess the password: allauth's own limit for asking
        # a signed-in person for their password again (ACCOUNT_RATE_LIMITS["reauthenticate"]).
        if not ratelimit.consume(self.request, action="reauthenticate", user=self.user):
            raise TooManyAttempts(
                "Too many attempts: wait a minute and try again. Your account was not deleted."
            )
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Your account was not deleted.")
        return password

    @property
    def rate_limited(self) -> bool:
        return any(isinstance(e, TooManyAttempts) for e in self.errors.as_data().get("password", []))


class CustomInstructionsForm(forms.Form):
    """What Claude should know about the person and how they like answers (accounts.User)."""

    custom_instructions = forms.CharField(
        label="Custom instructions",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Claude reads this in every chat, as context from you. It cannot change Bowout's rules.",
    )

    def clean_custom_instructions(self) -> str:
        text = self.cleaned_data["custom_instructions"].strip()
        limit = settings.BOWOUT_CUSTOM_INSTRUCTIONS_MAX_CHARS
        if "\x00" in text:
            raise forms.ValidationError(
                "The instructions contain a NUL character (\\0), which cannot be saved."
            )
        if len(text) > limit:
            raise forms.ValidationError(
                f"Custom instructions can be at most {limit:,} characters; these have {len(text):,}. "
                "Shorten them and save again."
            )
        return text
