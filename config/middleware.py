import logging

from config.api import database_unavailable, is_database_unavailable

logger = logging.getLogger("config.database")


class DatabaseUnavailableMiddleware:
    """While the database cannot be reached, every view answers 503 with Retry-After instead of a crash:
    JSON under /api/ (the tablet keeps its sales queued and sends them again), a page elsewhere. The
    views of DRF come here too, since the API's exception handler leaves such errors alone. Failures
    outside a view reach config.api.server_error, which answers the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        logger.error("database unavailable: %s %s", request.method, request.path, exc_info=exception)
        return database_unavailable(request)
