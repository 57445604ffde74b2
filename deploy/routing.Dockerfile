FROM python:3.11-slim
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY libs/ libs/
COPY services/routing/ services/routing/
RUN pip install --no-cache-dir -e libs/contracts -e libs/kit -e services/routing
EXPOSE 8002
CMD ["lotse-routing", "serve"]
