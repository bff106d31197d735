from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

from asgiref.sync import async_to_sync, sync_to_async
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from chat import close_codes, export, flow, fragments, generation, search, workers
from chat.models import Conversation, Message

TEMPLATE = "chat/conversation.html"


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it (its documented way to type `request.htmx`)."""

    htmx: HtmxDetails


def _get_conversation(request: HtmxHttpRequest, conversation_id: UUID) -> Conversation:
    try:
        return flow.get_conversation(request.user, conversation_id)
    except flow.ConversationNotFound:
        raise Http404("No such conversation") from None


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Navigate after a write: htmx callers are told where to go, plain forms are redirected."""
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


def _sidebar(user) -> list[Conversation]:
    return list(Conversation.objects.for_user(user).for_sidebar()[:200])


@login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "chat/home.html", {"conversations": _sidebar(request.user)})


@login_required
@require_POST
def new_conversation(request: HtmxHttpRequest) -> HttpResponse:
    try:
        conversation = flow.new_conversation(request.user)
    except flow.QuotaExceeded as refusal:
        flash.error(request, refusal.message)
        return _go(request, reverse("chat:home"))
    return _go(request, reverse("chat:conversation", args=[conversation.pk]))


def render_conversation(
    request: HtmxHttpRequest,
    conversation: Conversation,
    *,
    error: str = "",
    draft: str = "",
    status: int = 200,
) -> HttpResponse:
    workers.interrupt_orphaned_replies(conversation)
    before = _before(request)
    page = fragments.messages_for_display(conversation, request.user, before=before)
    if before is not None and request.htmx:
        # "Load earlier messages": the older ones (and the control for those before them) in its place.
        context = {
            "conversation": conversation,
            "chat_messages": page.messages,
            "earlier_before": page.earlier,
        }
        return render(request, f"{TEMPLATE}#earlier", context)
    context = {
        "conversation": conversation,
        "conversations": _sidebar(request.user),
        # Not "messages": that name belongs to Django's flash messages, which base.html shows.
        "chat_messages": page.messages,
        "earlier_before": page.earlier,
        # An earlier page (without JavaScript) does not hold the streaming reply: the chat itself says.
        "streaming": conversation.messages.filter(status=Message.Status.STREAMING).exists()
        if before is not None
        else any(m.is_streaming for m in page.messages),
        "support": fragments.shows_support(conversation),
        "end_requests": fragments.end_requests(conversation),
        "state_token": fragments.state_token(conversation),
        "error": error,
        "draft": draft,
        # Without JavaScript the form's own id makes a double submit one message.
        "new_client_id": uuid4(),
        "chosen_model": flow.reply_model(conversation),
    }
    return render(request, TEMPLATE, context, status=status)


def _before(request: HtmxHttpRequest) -> int | None:
    """`?before=<message id>`: the page of messages before that one ("Load earlier messages")."""
    value = request.GET.get("before")
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise BadRequest("'before' must be the number of a message.")
    return int(value)


@login_required
@require_GET
def conversation_page(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    return render_conversation(request, _get_conversation(request, conversation_id))


def _refuse(
    request: HtmxHttpRequest, conversation_id: UUID, error: flow.ChatError, draft: str = ""
) -> HttpResponse:
    """A refused write: an htmx fragment, or the page again with the error and the user's text kept."""
    if isinstance(error, flow.ConversationNotFound):
        raise Http404("No such conversation")
    if request.htmx:
        # Out of band into the page's error slot; the form that asked is left as it is, text and all.
        response = render(
            request,
            f"{TEMPLATE}#composer-error",
            {"error": error.message, "error_oob": True},
            status=error.status,
        )
        response["HX-Reswap"] = "none"
        return response
    conversation = _get_conversation(request, conversation_id)
    return render_conversation(request, conversation, error=error.message, draft=draft, status=error.status)


@login_required
@require_POST
async def post_message(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    """The form's own target: works without JavaScript, the reply shown after the redirect."""
    user = await request.auser()
    text = request.POST.get("text", "")
    try:
        posted = await generation.send_message(user, conversation_id, text, request.POST.get("client_id"))
    except flow.ChatError as error:
        return await sync_to_async(_refuse)(request, conversation_id, error, text)
    if posted.reply is not None:
        # Shielded: a visitor who gives up waiting does not cancel the reply; it is saved all the same.
        await generation.wait_for_generation(posted.reply.pk)
    anchor = f"#msg-{posted.reply.pk}" if posted.reply else ""
    return redirect(reverse("chat:conversation", args=[conversation_id]) + anchor)


@login_required
@require_POST
async def retry(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    return await _answer_again(request, conversation_id, generation.retry_reply)


async def _answer_again(
    request: HtmxHttpRequest, conversation_id: UUID, start: Callable[..., Awaitable[Message]]
) -> HttpResponse:
    """Retry and Regenerate: a new reply to the last message, on the page once it is written."""
    user = await request.auser()
    try:
        reply = await start(user, conversation_id, request.POST.get("message_id"))
    except flow.ChatError as error:
        return await sync_to_async(_refuse)(request, conversation_id, error)
    await generation.wait_for_generation(reply.pk)
    return redirect(reverse("chat:conversation", args=[conversation_id]) + f"#msg-{reply.pk}")


@login_required
@require_POST
async def stop(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    user = await request.auser()
    try:
        reply = await sync_to_async(flow.request_stop)(user, conversation_id)
    except flow.ChatError as error:
        return await sync_to_async(_refuse)(request, conversation_id, error)
    if reply is not None:
        await generation.stop_generation(conversation_id, reply.pk)
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def rename(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    try:
        conversation = flow.rename_conversation(request.user, conversation_id, request.POST.get("title"))
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    async_to_sync(fragments.publish)(conversation, fragments.render_renamed(conversation))
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    """GET: the confirmation page (the dialog, without JavaScript). POST: delete the chat."""
    if request.method == "GET":
        conversation = _get_conversation(request, conversation_id)
        return render(request, "chat/delete.html", {"conversation": conversation, "standalone": True})
    try:
        flow.delete_conversation(request.user, conversation_id)
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    # Its other open tabs say the chat was deleted (the sidebars of other chats' tabs keep it until reload).
    async_to_sync(fragments.close_tabs)(conversation_id, close_codes.DELETED)
    flash.success(request, "Chat deleted.")
    return redirect("chat:home")


@login_required
async def end(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    """GET: the confirmation page (the dialog, without JavaScript). POST: end the chat for good."""
    user = await request.auser()
    if request.method == "GET":
        return await sync_to_async(_end_confirmation)(request, conversation_id)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    try:
        conversation, stopped = await sync_to_async(flow.end_by_user)(
            user, conversation_id, request.POST.get("note")
        )
    except flow.ChatError as error:
        return await sync_to_async(_refuse)(request, conversation_id, error)
    if stopped is not None:
        await generation.stop_generation(conversation.pk, stopped.pk)
    await fragments.publish(conversation, await sync_to_async(fragments.render_snapshot)(conversation))
    if request.htmx:
        # The banner in place of the composer (its dialog goes with it); every tab, this one included,
        # also gets the snapshot above.
        return await sync_to_async(render)(
            request, f"{TEMPLATE}#composer-area", {"conversation": conversation}
        )
    return redirect("chat:conversation", conversation_id=conversation_id)


def _end_confirmation(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    conversation = _get_conversation(request, conversation_id)
    if conversation.is_ended:
        return redirect("chat:conversation", conversation_id=conversation_id)
    return render(request, "chat/end.html", {"conversation": conversation, "standalone": True})


@login_required
@require_POST
async def edit(request: HtmxHttpRequest, conversation_id: UUID, message_id: int) -> HttpResponse:
    """Edit an earlier message: a new branch with the history up to it. htmx callers go there at once
    and watch the reply stream; without JavaScript the reply is ready after the redirect."""
    user = await request.auser()
    text = request.POST.get("text", "")
    try:
        posted = await generation.edit_message(user, conversation_id, message_id, text)
    except flow.ChatError as error:
        return await sync_to_async(_refuse)(request, conversation_id, error, "")
    reply = posted.reply
    assert reply is not None, "a branch always starts with a reply"
    url = reverse("chat:conversation", args=[posted.conversation.pk])
    if request.htmx:
        return _go(request, url)
    await generation.wait_for_generation(reply.pk)
    return redirect(url + f"#msg-{reply.pk}")


@login_required
@require_POST
def rate(request: HtmxHttpRequest, conversation_id: UUID, message_id: int) -> HttpResponse:
    try:
        message = flow.rate_message(request.user, conversation_id, message_id, request.POST.get("rating"))
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    if request.htmx:
        return render(request, f"{TEMPLATE}#rating", {"message": message})
    flash.success(request, "Thanks for the feedback.")
    return redirect(reverse("chat:conversation", args=[conversation_id]) + f"#msg-{message.pk}")


def _end_feedback(request: HtmxHttpRequest, conversation_id: UUID, *, appeal: bool) -> HttpResponse:
    try:
        flow.give_end_feedback(
            request.user,
            conversation_id,
            request.POST.get("text"),
            mistaken=request.POST.get("mistaken") == "1",
            appeal=appeal,
        )
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    sent = "request for a review" if appeal else "feedback"
    if request.htmx:
        conversation = _get_conversation(request, conversation_id)
        context = {"conversation": conversation, "end_requests": fragments.end_requests(conversation)}
        return render(request, f"{TEMPLATE}#feedback", context)
    flash.success(request, f"Thank you — your {sent} reached Bowout's staff.")
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def feedback(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    return _end_feedback(request, conversation_id, appeal=False)


@login_required
@require_POST
def appeal(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    return _end_feedback(request, conversation_id, appeal=True)


@login_required
@require_POST
async def regenerate(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    """Another version of the last reply (the earlier ones are kept); the same path as Retry."""
    return await _answer_again(request, conversation_id, generation.regenerate_reply)


@login_required
@require_POST
def show_version(request: HtmxHttpRequest, conversation_id: UUID, message_id: int) -> HttpResponse:
    try:
        shown = flow.show_version(request.user, conversation_id, message_id)
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    if request.htmx:
        # The same page with another version in it (a redirect differing only by its #anchor would not load).
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return redirect(reverse("chat:conversation", args=[conversation_id]) + f"#msg-{shown.pk}")


@login_required
@require_POST
def choose_model(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    try:
        conversation = flow.choose_model(request.user, conversation_id, request.POST.get("model"))
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    flash.success(request, f"New replies in this chat will be written by {conversation.model}.")
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def pin(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    try:
        flow.set_pinned(request.user, conversation_id, request.POST.get("pinned") != "0")
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def archive(request: HtmxHttpRequest, conversation_id: UUID) -> HttpResponse:
    archiving = request.POST.get("archived") != "0"
    try:
        flow.set_archived(request.user, conversation_id, archiving)
    except flow.ChatError as error:
        return _refuse(request, conversation_id, error)
    if archiving:
        flash.success(request, "Chat archived. Find it under Archived chats.")
        return redirect("chat:home")
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_GET
def archived(request: HtmxHttpRequest) -> HttpResponse:
    chats = list(Conversation.objects.for_user(request.user).archived()[:500])
    return render(
        request, "chat/archived.html", {"conversations": _sidebar(request.user), "archived_chats": chats}
    )


@login_required
@require_GET
def search_chats(request: HtmxHttpRequest) -> HttpResponse:
    """GET /search/?q=…: the user's own chats that match, each with a snippet linking to it."""
    error, results, query = "", [], ""
    try:
        query = search.clean_query(request.GET.get("q"))
        results = search.search(request.user, query)
    except search.BadQuery as bad:
        error = str(bad)
    context = {
        "conversations": _sidebar(request.user),
        "search_query": query or request.GET.get("q", "")[: search.MAX_QUERY_CHARS],
        "results": results,
        "error": error,
    }
    return render(request, "chat/search.html", context, status=400 if error else 200)


def _download(body: str, fmt: str, name: str) -> HttpResponse:
    return HttpResponse(
        body,
        content_type=export.FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _render_export(conversations: list[Conversation], fmt: str) -> str:
    return export.as_json(conversations) if fmt == "json" else export.as_markdown(conversations)


@login_required
@require_GET
def export_conversation(request: HtmxHttpRequest, conversation_id: UUID, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        return HttpResponseBadRequest("Export as md (Markdown) or json.", content_type="text/plain")
    conversation = _get_conversation(request, conversation_id)
    return _download(
        _render_export([conversation], fmt), fmt, export.filename([conversation], fmt, single=True)
    )


@login_required
@require_GET
def export_all(request: HtmxHttpRequest, fmt: str) -> HttpResponse:
    if fmt not in export.FORMATS:
        return HttpResponseBadRequest("Export as md (Markdown) or json.", content_type="text/plain")
    conversations = list(Conversation.objects.for_user(request.user).order_by("created_at"))
    if not conversations:
        flash.error(request, "You have no chats to export yet.")
        return redirect("chat:home")
    return _download(
        _render_export(conversations, fmt), fmt, export.filename(conversations, fmt, single=False)
    )
