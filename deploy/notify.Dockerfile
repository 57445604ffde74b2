FROM python:3.11-slim
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY libs/ libs/
COPY services/notify/ services/notify/
RUN pip install --no-cache-dir -e libs/contracts -e libs/kit -e services/notify
EXPOSE 8003
CMD ["lotse-notify", "serve"]
