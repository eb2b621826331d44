"""Tablet pages of the service cards (mounted in the tablet's namespace by config/urls.py)."""

from django.urls import path

from servicecards import views

urlpatterns = [
    path("m/<str:code>/cards/sell/", views.card_sell_page, name="card-sell"),
    path("cards/today/", views.card_uses_today, name="card-uses-today"),
    path("cards/uses/<int:entry_id>/", views.card_use_done, name="card-use-done"),
    path("cards/uses/<int:entry_id>/reverse/", views.card_use_reverse_page, name="card-use-reverse"),
    path("cards/<str:card_code>/", views.card_page, name="card"),
    path("cards/<str:card_code>/use/", views.card_use_page, name="card-use"),
    path("cards/<str:card_code>/code/", views.card_use_code, name="card-use-code"),
    path("cards/<str:card_code>/freeze/", views.card_freeze_page, name="card-freeze"),
    path("cards/<str:card_code>/unfreeze/", views.card_unfreeze_page, name="card-unfreeze"),
    path("cards/<str:card_code>/extend/", views.card_extend_page, name="card-extend"),
    path("cards/<str:card_code>/transfer/", views.card_transfer_page, name="card-transfer"),
    path("cards/<str:card_code>/refund/", views.card_refund_page, name="card-refund"),
]
