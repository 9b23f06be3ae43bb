from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("qualifications", views.QualificationViewSet, basename="qualification")
router.register("work/qualifications", views.MyQualificationViewSet, basename="my-qualification")

urlpatterns = [
    path("auth/token/", views.token_obtain, name="auth-token"),
    path("me/", views.me, name="me"),
    *router.urls,
]
