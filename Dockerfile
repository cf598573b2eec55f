# wkssvcd from this repository.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/wkssvcd ./cmd/wkst

FROM debian:bookworm-slim
COPY --from=build /out/wkssvcd /out/wkst /usr/local/bin/
VOLUME /var/lib/wkssvcd
EXPOSE 445
ENTRYPOINT ["/usr/local/bin/wkssvcd"]
