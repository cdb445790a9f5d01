#!/usr/bin/env bash
# Builds the rgap Debian package with dpkg-deb: `make deb`, or
#   packaging/build-deb.sh BINARY VERSION OUTDIR [PLUGIN...]
# BINARY is a static rgap built for GOARCH (make build VERSION=...), VERSION
# a Debian version (it must start with a digit); each PLUGIN is a plugin
# executable (rgap-plugin-KIND, from make build) installed in
# /usr/lib/rgap/plugins. Prints the .deb's path.
set -euo pipefail

bin=$(realpath "$1") version=$2 out=$(realpath -m "$3")
shift 3
plugins=()
for p in "$@"; do plugins+=("$(realpath "$p")"); done
cd "$(dirname "$0")"
case "$version" in
[0-9]*) ;;
*) echo "build-deb: version $version must start with a digit" >&2; exit 2 ;;
esac
goarch=${GOARCH:-$(go env GOARCH)}
case "$goarch" in
amd64 | arm64 | riscv64 | s390x | ppc64le | mips64le) arch=$goarch ;;
386) arch=i386 ;;
arm) arch=armhf ;;
*) echo "build-deb: no Debian architecture for GOARCH=$goarch" >&2; exit 2 ;;
esac

root=$(mktemp -d)
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
umask 022
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/rgap" \
	"$root/etc/default" "$root/usr/lib/rgap/plugins" "$root/usr/share/doc/rgap"
install -m 0755 "$bin" "$root/usr/bin/rgap"
for p in "${plugins[@]}"; do install -m 0755 "$p" "$root/usr/lib/rgap/plugins/"; done
install -m 0644 rgap.service rgap-agent.service "$root/lib/systemd/system/"
install -m 0644 rgap.yaml "$root/etc/rgap/rgap.yaml" # root:rgap 0640 once postinst made the user
install -m 0600 rgap-agent.default "$root/etc/default/rgap-agent"
install -m 0644 ../README.md "$root/usr/share/doc/rgap/README.md"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" debian/control.in >"$root/DEBIAN/control"
echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)" >>"$root/DEBIAN/control"
install -m 0644 debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 debian/postinst debian/prerm debian/postrm "$root/DEBIAN/"

mkdir -p "$out"
deb="$out/rgap_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
