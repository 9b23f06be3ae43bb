"""The project's URLs plus one new page, for the permission matrix's own test."""

from django.http import HttpResponseRedirect
from django.urls import path

from marketplace.urls import handler400, handler404
from marketplace.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("new/<int:pk>/", lambda request, pk: HttpResponseRedirect("/"), name="new-thing"),
]
__all__ = ["handler400", "handler404", "urlpatterns"]
