"""URLs of the canned phrases: the centre's page and the API (included from config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from callcenter.phrases import api, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("phrases/", views.phrases_page, name="phrases"),
    path("api/phrases/", api.PhraseListView.as_view(), name="phrase-list"),
    path("api/phrases/<int:pk>/", api.PhraseDetailView.as_view(), name="phrase-detail"),
]
