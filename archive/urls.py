from django.urls import path

from archive import api

urlpatterns = [
    path("api/archive/records/", api.ArchiveRecordListView.as_view(), name="archive-records"),
    path("api/archive/records/<int:pk>/", api.ArchiveRecordView.as_view(), name="archive-record"),
    path("api/archive/batches/", api.ArchiveBatchView.as_view(), name="archive-batches"),
]
