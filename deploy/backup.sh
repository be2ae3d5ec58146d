#!/bin/sh
# Dump one PostgreSQL database to DIR/NAME-YYYYmmddTHHMMSSZ.dump (pg_dump's custom
# format, compressed) and delete that database's dumps older than KEEP_DAYS.
#   backup.sh DATABASE DIR [KEEP_DAYS]
# Connection settings come from libpq's variables (PGHOST, PGPORT, PGUSER ...); run as
# the postgres user on the database machine they are not needed.
# Restore into a new database:  createdb engage_restored &&
#   pg_restore --no-owner --role=engage -d engage_restored DIR/FILE.dump
set -eu

database=${1:?usage: backup.sh DATABASE DIR [KEEP_DAYS]}
dir=${2:?usage: backup.sh DATABASE DIR [KEEP_DAYS]}
keep=${3:-14}

mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$dir/$database-$stamp.dump"
# Written under a temporary name and renamed when complete: a dump cut short by a
# crash is never mistaken for a good one.
pg_dump --format=custom --file="$target.partial" "$database"
pg_restore --list "$target.partial" >/dev/null  # readable as an archive
mv "$target.partial" "$target"
find "$dir" -maxdepth 1 -name "$database-*.dump" -type f -mtime +"$keep" -delete
echo "$target"
