FROM python:3.11-slim
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY libs/ libs/
COPY services/directory/ services/directory/
RUN pip install --no-cache-dir -e libs/contracts -e libs/kit -e services/directory
EXPOSE 8001
CMD ["lotse-directory", "serve"]
