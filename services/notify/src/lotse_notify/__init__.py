"""Lotse notify: tells receiving institutions of referrals (webhook, e-mail, inbox) and reports delivery.

The WSGI app is :func:`lotse_notify.entrypoints.web.create_app`: importing this package loads no web
framework, so the Celery worker's processes stay small.
"""
