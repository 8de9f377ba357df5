#!/usr/bin/env bash
# Make a local stand-in for debian:bookworm-slim, for machines that reach Debian's mirrors but
# no container registry:  mk/standin-base.sh IMAGE [MIRROR]
#
# debootstrap's minbase variant is the package set the official image starts from; the
# trimming below is what makes that image "slim" (no docs, man pages or translations, apt
# caches off), so a Dockerfile that works here does not trip over a missing
# /usr/share/man on the real one. Needs root (debootstrap, buildah's storage).
set -euo pipefail
image=${1:?usage: $0 IMAGE [MIRROR]}
# Default: the Debian mirror this machine's own apt already uses.
# A missing /etc/apt/sources.list (deb822-only machines) makes grep exit 2: under pipefail
# that would end the script silently here, so the pipeline's status is not the answer.
host_mirror() {
  { grep -shoE '(URIs:|^deb) +[^ ]+/debian/?( |$)' /etc/apt/sources.list \
    /etc/apt/sources.list.d/* | awk '{print $2}' | head -n 1; } || true
}
mirror=${2:-$(host_mirror)}
[ -n "$mirror" ] || { echo "no Debian mirror in /etc/apt sources; pass one: $0 IMAGE MIRROR" >&2; exit 1; }

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null' EXIT
root=$(buildah mount "$ctr")

debootstrap --variant=minbase bookworm "$root" "$mirror"

# The suites the official image lists (deb822 form), instead of debootstrap's one line.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# dpkg skips documentation; the files already unpacked go too.
cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/man" "$root/usr/share/info" "$root/usr/share/locale" -mindepth 1 -delete

# apt as in image builds: no translations, no package caches, compressed lists.
cat >"$root/etc/apt/apt.conf.d/slim" <<'EOF'
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::AutoRemove::SuggestsImportant "false";
EOF
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

buildah config --cmd bash \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label "org.opencontainers.image.description=local stand-in for debian:bookworm-slim" \
    "$ctr"
buildah commit --quiet "$ctr" "$image"
