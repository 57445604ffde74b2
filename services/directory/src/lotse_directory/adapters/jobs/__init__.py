"""Background jobs (scale mode): Celery on RabbitMQ."""
