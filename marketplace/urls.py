from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from marketplace import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("marketplace.web.urls")),
    path("", include("marketplace.web.money_urls")),
    path("", include("marketplace.web.keys_urls")),
    path("health/", health.health, name="health"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("tasks.api.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("marketplace.mturk.api_urls")),
    path("payments/", include("payments.urls")),
    path("mturk/", include("marketplace.mturk.urls")),
    path("mturk/", include("marketplace.mturk.worker_urls")),
]

handler400 = "marketplace.views.bad_request"
handler404 = "marketplace.views.page_not_found"
