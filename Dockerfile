# syntax=docker/dockerfile:1

# One image with the three binaries of this repository:
#   observerd    (the entrypoint)       /usr/local/bin/observerd
#   ratelimiterd (reference node)       /usr/local/bin/ratelimiterd
#   loadgen      (demo traffic)         /usr/local/bin/loadgen
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t observerd:dev .

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly

COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY cmd/ cmd/
COPY internal/ internal/

ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    export GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}" \
    && go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
        -o /out/observerd ./cmd/observerd \
    && go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
        -o /out/ratelimiterd ./cmd/ratelimiterd \
    && go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
        -o /out/loadgen ./cmd/loadgen

# Static binaries, no shell, CA certificates and tzdata included; runs as
# the image's nonroot user (65532), which the Kubernetes manifests assume.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="observerd" \
      org.opencontainers.image.description="Observer of a Redis-backed sliding-window rate limiter cluster" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$COMMIT"

COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 9750
ENTRYPOINT ["/usr/local/bin/observerd"]
