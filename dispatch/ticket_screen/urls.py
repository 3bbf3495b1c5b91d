"""The ticket page: one ticket with everything about it and a button for every action the workflow allows."""

from django.urls import URLPattern, URLResolver, path

from dispatch.ticket_screen import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("tickets/", views.open_ticket, name="ticket-open"),
    path("tickets/id/<int:pk>/", views.ticket_by_id, name="ticket-by-id"),
    path("tickets/<str:number>/", views.ticket_page, name="ticket-page"),
]
