from django.urls import path

from archive import api, pages

urlpatterns = [
    path("api/archive/records/", api.ArchiveRecordListView.as_view(), name="archive-records"),
    path("api/archive/records/<int:pk>/", api.ArchiveRecordView.as_view(), name="archive-record"),
    path("api/archive/batches/", api.ArchiveBatchView.as_view(), name="archive-batches"),
    # The records office's page (档案室).
    path("archive/", pages.records_page, name="archive-page"),
    path("archive/records/<int:pk>/verify/", pages.verify, name="archive-page-verify"),
]
