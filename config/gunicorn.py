"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`, as `make serve` runs it): its error
and access logs go through the phone filter of every other log (config.log_filters), in the format the
README documents."""

import os

from config.log_filters import GUNICORN_ACCESS_LOG_FORMAT, gunicorn_logconfig

logconfig_dict = gunicorn_logconfig(os.environ.get("LOG_LEVEL", "INFO"))
access_log_format = GUNICORN_ACCESS_LOG_FORMAT
