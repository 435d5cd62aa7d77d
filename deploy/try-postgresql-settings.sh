#!/bin/sh
# Essai des réglages PostgreSQL de deploy/postgresql/registre.conf et de l'authentification
# recommandée (peer par le socket Unix, scram-sha-256 en TCP) sur un cluster JETABLE : initdb
# dans un répertoire temporaire, port 5499, socket dans ce répertoire ; rien n'est changé au
# PostgreSQL de la machine. Root requis (le cluster tourne sous l'utilisateur postgres ;
# l'essai « peer » sous l'utilisateur système registre, s'il existe).
#   sh deploy/try-postgresql-settings.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
DIR=$(mktemp -d /tmp/registre-pg-XXXXXX)
PORT=5499
chown postgres "$DIR"
chmod 755 "$DIR"  # the socket is here: registre and nobody must reach it
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

as_pg "$BIN/initdb" -D "$DIR/data" --auth-local=peer --auth-host=scram-sha-256 -U postgres >/dev/null
mkdir -p "$DIR/data/conf.d"
cp "$HERE/postgresql/registre.conf" "$DIR/data/conf.d/registre.conf"
chown -R postgres "$DIR/data/conf.d"
echo "include_dir = 'conf.d'" >> "$DIR/data/postgresql.conf"
# pg_hba.conf de la documentation (avant les lignes générales d'initdb).
{
  echo "local   registre   registre                 peer"
  echo "host    registre   registre   127.0.0.1/32  scram-sha-256"
  cat "$DIR/data/pg_hba.conf"
} > "$DIR/pg_hba.conf" && mv "$DIR/pg_hba.conf" "$DIR/data/pg_hba.conf"
chown postgres "$DIR/data/pg_hba.conf"
as_pg "$BIN/pg_ctl" -D "$DIR/data" -o "-p $PORT -k $DIR" -l "$DIR/server.log" -w start >/dev/null
echo "== cluster jetable démarré ($("$BIN/postgres" --version))"
PSQL="$BIN/psql -X -q -h $DIR -p $PORT"
as_pg $PSQL -U postgres -d postgres -Atc "SELECT name || ' = ' || current_setting(name) FROM pg_settings WHERE source = 'configuration file' AND sourcefile LIKE '%registre.conf' ORDER BY name"
errors=$(grep -ci "error\|invalid\|FATAL" "$DIR/server.log" || true)
echo "== erreurs de configuration dans le journal du serveur : $errors"

PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
as_pg $PSQL -U postgres -d postgres -c "CREATE ROLE registre LOGIN PASSWORD '$PASSWORD'"
as_pg $PSQL -U postgres -d postgres -c "ALTER ROLE registre SET idle_in_transaction_session_timeout = '5min'"
as_pg $PSQL -U postgres -d postgres -c "ALTER ROLE registre SET statement_timeout = '5min'"
as_pg $PSQL -U postgres -d postgres -c "CREATE DATABASE registre OWNER registre"
if id registre >/dev/null 2>&1; then
  out=$(runuser -u registre -- $PSQL -U registre -d registre -Atc "SELECT current_user || ' ' || current_setting('statement_timeout')")
  echo "== peer (utilisateur système registre, socket Unix) : $out"
  if runuser -u nobody -- $PSQL -U registre -d registre -c "SELECT 1" >/dev/null 2>&1; then
    echo "ÉCHEC : peer a laissé entrer l'utilisateur nobody" && exit 1
  fi
  echo "== peer : l'utilisateur système nobody est refusé comme rôle registre"
  REGISTRE=$HERE/../.venv/bin/registre
  if [ -x "$REGISTRE" ]; then
    out=$(cd "$HERE/.." && runuser -u registre -- env -i PATH=/usr/bin:/bin \
      REGISTRE_SECRETS_FILE=/dev/null \
      "REGISTRE_DATABASE_URL=postgresql://registre@/registre?host=$DIR&port=$PORT" \
      "$REGISTRE" init)
    echo "== registre init par le socket Unix et peer : $out"
  fi
else
  echo "== peer non essayé : pas d'utilisateur système registre"
fi
out=$(PGPASSWORD=$PASSWORD $BIN/psql -X -h 127.0.0.1 -p $PORT -U registre -d registre -Atc "SELECT current_user || ' ' || CASE WHEN ssl THEN 'tls' ELSE 'sans tls' END FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
echo "== scram-sha-256 en TCP : $out"
if PGPASSWORD=mauvais $BIN/psql -X -h 127.0.0.1 -p $PORT -U registre -d registre -c "SELECT 1" >/dev/null 2>&1; then
  echo "ÉCHEC : mauvais mot de passe accepté" && exit 1
fi
echo "== scram-sha-256 : mauvais mot de passe refusé"
echo "== arrêt et suppression du cluster jetable"
