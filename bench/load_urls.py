"""The project's URLs plus the load bench's ceiling: a minimal DRF endpoint doing one query,
behind the same middleware and token authentication as the API."""

from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.urls import handler400, handler404
from marketplace.urls import urlpatterns as project_urlpatterns
from tasks.models import Bundle


@api_view(["GET"])
def ceiling(request: Request) -> Response:
    return Response({"id": Bundle.objects.values_list("id", flat=True).first()})


urlpatterns = [*project_urlpatterns, path("bench/ceiling/", ceiling)]
__all__ = ["handler400", "handler404", "urlpatterns"]
