from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/new/", views.new_conversation, name="new"),
    path("c/<uuid:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<uuid:conversation_id>/messages/", views.post_message, name="post_message"),
    path("c/<uuid:conversation_id>/retry/", views.retry, name="retry"),
    path("c/<uuid:conversation_id>/stop/", views.stop, name="stop"),
    path("c/<uuid:conversation_id>/rename/", views.rename, name="rename"),
    path("c/<uuid:conversation_id>/delete/", views.delete, name="delete"),
    path("c/<uuid:conversation_id>/end/", views.end, name="end"),
    path("c/<uuid:conversation_id>/feedback/", views.feedback, name="feedback"),
    path("c/<uuid:conversation_id>/appeal/", views.appeal, name="appeal"),
    path("c/<uuid:conversation_id>/messages/<int:message_id>/edit/", views.edit, name="edit"),
    path("c/<uuid:conversation_id>/messages/<int:message_id>/rate/", views.rate, name="rate"),
    path("c/<uuid:conversation_id>/regenerate/", views.regenerate, name="regenerate"),
    path("c/<uuid:conversation_id>/messages/<int:message_id>/show/", views.show_version, name="show_version"),
    path("c/<uuid:conversation_id>/model/", views.choose_model, name="model"),
    path("c/<uuid:conversation_id>/pin/", views.pin, name="pin"),
    path("c/<uuid:conversation_id>/archive/", views.archive, name="archive"),
    path("c/<uuid:conversation_id>/export.<str:fmt>", views.export_conversation, name="export"),
    path("archived/", views.archived, name="archived"),
    path("search/", views.search_chats, name="search"),
    path("export.<str:fmt>", views.export_all, name="export_all"),
]
