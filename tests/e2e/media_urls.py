"""The site's URLs plus a test-only image: `/test-media/scene.png` (tests.annotation_support).
Browser tests switch ROOT_URLCONF to this module so the live server serves the image."""

from django.http import HttpResponse
from django.urls import path

from marketplace.urls import urlpatterns as site_urls
from tests.annotation_support import scene_png


def scene(request):
    return HttpResponse(scene_png(), content_type="image/png")


urlpatterns = [path("test-media/scene.png", scene), *site_urls]
