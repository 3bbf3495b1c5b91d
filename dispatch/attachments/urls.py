"""Attachments: photos and documents on intake, progress notes and replies (dispatch/attachments/api.py)."""

from django.urls import URLPattern, URLResolver, path

from dispatch.attachments import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/tickets/<int:pk>/attachments/", api.TicketAttachmentsView.as_view(), name="ticket-attachments"),
    path(
        "api/work-orders/<int:pk>/attachments/", api.WorkOrderAttachmentsView.as_view(), name="work-order-attachments"
    ),
    path("api/attachments/<int:pk>/file/", api.AttachmentFileView.as_view(), name="attachment-file"),
    path("api/attachments/<int:pk>/thumbnail/", api.AttachmentThumbnailView.as_view(), name="attachment-thumbnail"),
]
