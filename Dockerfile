# syntax=docker/dockerfile:1@sha256:ecfaec9ed6d810b56388c508f4121597bfbba70d41a6dfeee4d8cad5f295fc32

# One image with the three binaries of this repository:
#   observerd    (the entrypoint)       /usr/local/bin/observerd
#   ratelimiterd (reference node)       /usr/local/bin/ratelimiterd
#   loadgen      (demo traffic)         /usr/local/bin/loadgen
#
#   docker build --build-arg VERSION=$(cat VERSION) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t observerd:dev .

# Base images are pinned by digest (make image-check fails otherwise): a
# tag moves, so only a digest names the image that was reviewed. To move
# to a newer one, look its digest up in the registry (docker buildx
# imagetools inspect golang:1.26) and replace it here.
FROM --platform=$BUILDPLATFORM golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647 AS build
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
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
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
