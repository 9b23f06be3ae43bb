"""The worker API's qualification-type routes (under /api/v1/)."""

from django.urls import path

from .api import QualificationTypeRequest, RequestableQualificationTypes

urlpatterns = [
    path(
        "work/qualification-types/",
        RequestableQualificationTypes.as_view(),
        name="work-qualification-type-list",
    ),
    path(
        "work/qualification-types/<str:type_id>/request/",
        QualificationTypeRequest.as_view(),
        name="work-qualification-type-request",
    ),
]
