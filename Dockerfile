# The cobrador application image: the dialer, the console and the CLI.
#   docker build -t cobrador:0.1.0 .
# docker-compose.yml builds and runs it (`cobrador dialer run`, `cobrador console run`).
# The browser phone: JsSIP from the lockfile, bundled by esbuild (scripts/build-phone).
FROM node:20-bookworm-slim AS phone
WORKDIR /src/console/phone-src
COPY console/phone-src/package.json console/phone-src/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
COPY console/phone-src/src/ src/
RUN mkdir -p ../static && npm run --silent build

# The supervisors' field map: Leaflet from the lockfile, bundled by esbuild (scripts/build-map).
FROM node:20-bookworm-slim AS map
WORKDIR /src/console/map-src
COPY console/map-src/package.json console/map-src/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
COPY console/map-src/src/ src/
RUN mkdir -p ../static && npm run --silent build

FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COBRADOR_DATA_DIR=/var/lib/cobrador

# uid 1000 matches the Asterisk image's asterisk user: both write the shared
# recordings volume.
RUN useradd --uid 1000 --user-group --home-dir /var/lib/cobrador --create-home cobrador \
    && mkdir -p /var/spool/cobrador/recordings /var/lib/cobrador-witness \
    && chown -R cobrador:cobrador /var/lib/cobrador /var/spool/cobrador /var/lib/cobrador-witness

WORKDIR /opt/cobrador
COPY pyproject.toml README.md ./
COPY cobrador/ cobrador/
COPY store/ store/
COPY dialer/ dialer/
COPY compliance/ compliance/
COPY console/ console/
COPY --from=phone /src/console/static/phone.js console/static/phone.js
COPY --from=map /src/console/static/map.js /src/console/static/map.css console/static/
COPY metrics/ metrics/
COPY pbxsim/ pbxsim/
COPY deploy/ deploy/
COPY outreach/ outreach/
COPY field/ field/
COPY selfservice/ selfservice/
COPY gateways/ gateways/
RUN pip install . \
    && install -m 0755 deploy/entrypoint.sh /usr/local/bin/cobrador-entrypoint

USER cobrador
WORKDIR /var/lib/cobrador
# 8080 console, 9108 dialer /metrics, 4573 FastAGI (loopback in docker-compose).
EXPOSE 8080 9108 4573
ENTRYPOINT ["cobrador-entrypoint"]
CMD ["cobrador", "--help"]
