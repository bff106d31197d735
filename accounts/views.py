from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import retention
from accounts.forms import CustomInstructionsForm, DeleteAccountForm
from accounts.models import User


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Self-service deletion, confirmed with the password; what happens is said before it happens."""
    form = DeleteAccountForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        retention.delete_account(request.user)
        logout(request)
        flash.success(request, "Your account has been deleted.")
        return redirect("account_login")
    status = 429 if form.errors and form.rate_limited else 400 if form.errors else 200
    context = {"form": form, "plan": retention.plan(request.user)}
    return render(request, "accounts/delete.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    """The person's settings: custom instructions for Claude."""
    user = request.user
    form = CustomInstructionsForm(
        request.POST or None, initial={"custom_instructions": getattr(user, "custom_instructions", "")}
    )
    if request.method == "POST" and form.is_valid():
        User.objects.filter(pk=request.user.pk or 0).update(
            custom_instructions=form.cleaned_data["custom_instructions"]
        )
        flash.success(request, "Settings saved. New replies will take them into account.")
        return redirect("account_settings")
    status = 400 if form.errors else 200
    context = {"form": form, "limit": settings.BOWOUT_CUSTOM_INSTRUCTIONS_MAX_CHARS}
    return render(request, "accounts/settings.html", context, status=status)
