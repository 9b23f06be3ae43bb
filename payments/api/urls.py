from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("topups", views.TopUpViewSet, basename="topup")
router.register("work/payouts", views.PayoutViewSet, basename="payout")

urlpatterns = [
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("work/earnings/", views.EarningsView.as_view(), name="earnings"),
    path("work/payout-account/", views.PayoutAccountView.as_view(), name="payout-account"),
    path("work/payout-details/", views.PayoutDetailsView.as_view(), name="payout-details"),
    path("admin/revenue/", views.RevenueView.as_view(), name="admin-revenue"),
    *router.urls,
]
