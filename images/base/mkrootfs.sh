#!/usr/bin/env bash
# Writes a slim Debian minbase root file system as a tar, for `docker import`.
#
#   mkrootfs.sh OUT.tar CACHE_DIR SUITE MIRROR SECURITY_MIRROR
#
# debootstrap runs on tmpfs (/dev/shm) because dpkg's fsyncs make it slow on disk; the .debs
# it fetches stay in CACHE_DIR/debs for the next run. The tree is then set up for image
# builds: no service starts during apt-get install, dpkg skips documentation and syncs, apt
# sources name the suite with its updates and security archives, and the host's resolv.conf,
# hostname, logs and package lists are dropped.
set -euo pipefail

out=$1
cache=$2
suite=$3
mirror=$4
security=$5

work=$(mktemp -d /dev/shm/hpt-rootfs.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$cache/debs"

debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$root" "$mirror" >&2

# No daemon may start inside a build.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

cat >"$root/etc/dpkg/dpkg.cfg.d/harbor-prep-test" <<'CFG'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*
CFG

cat >"$root/etc/apt/apt.conf.d/90harbor-prep-test" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
CFG

rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/lintian"
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
rm -f "$root/var/log/bootstrap.log" "$root/var/log/dpkg.log" "$root/var/log/alternatives.log"
find "$root/var/log" -type f -exec truncate -s 0 {} +
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"

tar --numeric-owner --xattrs -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
