# syntax=docker/dockerfile:1
# A thin mirror of scripts/setup + go build. The models come from the shared model directory,
# passed as a named build context:
#
#   docker build --build-context shared=../shared -t facematch .
#   docker run --rm -v "$PWD/photos:/photos:ro" facematch detect /photos/a.jpg

FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=shared models /shared/models
RUN FACEMATCH_SHARED_MODELS=/shared/models FACEMATCH_ASSETS=/opt/facematch scripts/setup \
 && CGO_ENABLED=1 go build -trimpath -o /out/facematch ./cmd/facematch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libstdc++6 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin facematch
COPY --from=build /opt/facematch /opt/facematch
COPY --from=build /out/facematch /usr/local/bin/facematch
ENV FACEMATCH_ASSETS=/opt/facematch
USER 10001
ENTRYPOINT ["facematch"]
CMD ["help"]
