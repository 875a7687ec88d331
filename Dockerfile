# syntax=docker/dockerfile:1

# One image with the three binaries of this repository:
#   observerd    (the entrypoint)       /usr/local/bin/observerd
#   ratelimiterd (reference node)       /usr/local/bin/ratelimiterd
#   loadgen      (demo traffic)         /usr/local/bin/loadgen
#
#   docker build --build-arg VERSION=$(cat VERSION) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t observerd:dev .

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
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    export GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}" \
    && v=github.com/prometheus/common/version \
    && go build -trimpath -ldflags "-s -w -X $v.Version=$VERSION -X $v.Revision=$REVISION -X $v.Branch=$BRANCH -X $v.BuildDate=$BUILD_DATE -X $v.BuildUser=docker" \
        -o /out/ ./cmd/observerd ./cmd/ratelimiterd ./cmd/loadgen

# Static binaries, no shell, CA certificates and tzdata included; runs as
# the image's nonroot user (65532), which the Kubernetes manifests assume.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="observerd" \
      org.opencontainers.image.description="Observer of a Redis-backed sliding-window rate limiter cluster" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION"

COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 9750
ENTRYPOINT ["/usr/local/bin/observerd"]
