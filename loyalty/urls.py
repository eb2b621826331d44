"""Tablet pages of the loyalty app: the member card, selling, receipts, refunds, top-ups, adjustments,
today's figures and the sales a manager must review."""

from django.urls import path

from loyalty import views

urlpatterns = [
    path("m/<str:code>/", views.member_card, name="member"),
    path("m/<str:code>/top-up/", views.top_up, name="top-up"),
    path("m/<str:code>/adjust/", views.adjust_points, name="adjust"),
    path("sell/", views.sell, name="sell"),
    path("sales/", views.recent_sales, name="sales"),
    path("sales/<int:sale_id>/", views.receipt, name="receipt"),
    path("sales/<int:sale_id>/refund/", views.refund, name="refund"),
    path("today/", views.today, name="today"),
    path("reviews/", views.reviews, name="reviews"),
]
