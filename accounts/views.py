from django.contrib import messages as flash
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import retention
from accounts.forms import DeleteAccountForm
from accounts.models import AuthenticatedHttpRequest


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: AuthenticatedHttpRequest) -> HttpResponse:
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
