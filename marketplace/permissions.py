from rest_framework.permissions import IsAuthenticated


class IsRequester(IsAuthenticated):
    message = "This needs a requester account."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.is_requester


class IsWorker(IsAuthenticated):
    message = "This needs a worker account."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.is_worker
