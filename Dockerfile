# One image, one binary: the same `triggerflow` the tests build runs every
# TriggerFlow service in docker-compose (migrate, worker, api; dev too).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV GOTOOLCHAIN=local CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/triggerflow ./cmd/triggerflow

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent triggerflow
COPY --from=build /out/triggerflow /usr/local/bin/triggerflow
USER triggerflow
# The API listens on all interfaces inside the container.
ENV TRIGGERFLOW_HTTP_ADDR=0.0.0.0:8080 TRIGGERFLOW_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["triggerflow"]
CMD ["api"]
