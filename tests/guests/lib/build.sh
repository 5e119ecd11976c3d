#!/bin/sh
# Builds one test guest against the library: build.sh <name> <out.elf> [-DHEAD_C_UPCALL] <guest
# sources...> (run from the guest's directory; needs gcc and GNU ld).
set -e
NAME=$1
OUT=$2
shift 2
HEADFLAGS=
if [ "$1" = -DHEAD_C_UPCALL ]; then HEADFLAGS=$1; shift; fi
LIB=$(cd "$(dirname "$0")" && pwd)
CFLAGS="-m64 -O1 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -mno-red-zone -mno-sse -mno-mmx -fno-builtin -nostdlib -fno-asynchronous-unwind-tables -mcmodel=small -Wall -I$LIB"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
gcc $CFLAGS "-DGUEST_NAME=\"Typevisor-$NAME\"" $HEADFLAGS -c "$LIB/head.S" -o "$T/head.o"
OBJS="$T/head.o"
for src in "$@" "$LIB"/start.c "$LIB"/console.c "$LIB"/xenstore.c "$LIB"/gnttab.c "$LIB"/string.c; do
  o="$T/$(basename "$src").o"
  gcc $CFLAGS -c "$src" -o "$o"
  OBJS="$OBJS $o"
done
ld -nostdlib -no-pie -z noexecstack -T "$LIB/guest.ld" $OBJS -o "$OUT"
strip --strip-debug "$OUT"
