-- A postgres source over TLS with libpq's connection options (issue 16
-- item 2): the remote cluster (test/lib.sh apex_remote_pg) has ssl on with
-- a certificate for "localhost" from a test CA (apex_remote_tls), and its
-- role apex_cert logs in over TLS only, with a client certificate of that
-- CA whose CN is its name and its password (scram-sha-256
-- clientcert=verify-full).  The client key is encrypted ("key-pass").
-- Paths under the run directory never reach the expected file: a message
-- that names one is read from partial with the directory replaced.
\set roles 'pgtls_owner pgtls_caller'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\getenv run_dir APEX_RUN_DIR
\set ca :run_dir/pgtls/ca.crt
\set other_ca :run_dir/pgtls/other-ca.crt
\set client_crt :run_dir/pgtls/client.crt
\set client_key :run_dir/pgtls/client.key

-- verify-full: the CA, and the host name "localhost" against the
-- certificate, connecting to 127.0.0.1 (hostaddr: no IPv6 look-up)
CREATE SERVER remote_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host 'localhost', hostaddr '127.0.0.1', port :'remote_pgport',
           dbname 'memory', sslmode 'verify-full', sslrootcert :'ca',
           query 'SELECT id, title, NULL, NULL, current_user AS remote_user,
                         (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS tls
                  FROM notes WHERE title ILIKE ''%'' || $1 || ''%'' ORDER BY id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_tls
  OPTIONS (user 'apex_cert', password 'cert-pass', sslcert :'client_crt', sslkey :'client_key',
           sslpassword 'key-pass');
SELECT rank, id, title, payload->'remote_tls'->'item'->>'remote_user' AS remote_user,
       payload->'remote_tls'->'item'->>'tls' AS tls, partial
FROM apex_route('billing', k => 2, sources => '{remote_tls}');

-- a non-superuser caller: the password rule holds (the remote asked for it)
CREATE ROLE pgtls_caller;
GRANT USAGE ON FOREIGN SERVER remote_tls TO pgtls_caller;
SET ROLE pgtls_caller;
SELECT count(*) AS rows FROM apex_route('billing', k => 2, sources => '{remote_tls}');
RESET ROLE;

-- a CA that signed none of it: that source fails alone
ALTER SERVER remote_tls OPTIONS (SET sslrootcert :'other_ca');
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
-- the right CA, the certificate's name not the host's
ALTER SERVER remote_tls OPTIONS (SET sslrootcert :'ca', SET host '127.0.0.1', DROP hostaddr);
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
-- verify-ca checks the CA only
ALTER SERVER remote_tls OPTIONS (SET sslmode 'verify-ca');
SELECT count(*) AS rows FROM apex_route('billing', k => 2, sources => '{remote_tls}');
ALTER SERVER remote_tls OPTIONS (SET sslmode 'verify-full', SET host 'localhost', ADD hostaddr '127.0.0.1');

-- no client certificate: the remote refuses the log-in
ALTER USER MAPPING FOR PUBLIC SERVER remote_tls OPTIONS (DROP sslcert, DROP sslkey, DROP sslpassword);
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
-- without TLS at all, the same role is rejected by pg_hba.conf
ALTER SERVER remote_tls OPTIONS (SET sslmode 'disable', DROP sslrootcert);
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
ALTER SERVER remote_tls OPTIONS (SET sslmode 'verify-full', ADD sslrootcert :'ca');
-- the key's passphrase wrong: libpq cannot read the key (the message
-- names the file)
ALTER USER MAPPING FOR PUBLIC SERVER remote_tls
  OPTIONS (ADD sslcert :'client_crt', ADD sslkey :'client_key', ADD sslpassword 'not-the-pass');
SET client_min_messages = error;
SELECT DISTINCT replace(partial::text, :'run_dir', '$APEX_RUN_DIR') AS partial
FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
RESET client_min_messages;
ALTER USER MAPPING FOR PUBLIC SERVER remote_tls OPTIONS (SET sslpassword 'key-pass');

-- libpq's other options reach the connection: keepalives, a TCP user
-- timeout, SNI off, TLS 1.3 at least, SCRAM channel binding required,
-- GSSAPI encryption off
ALTER SERVER remote_tls OPTIONS (ADD keepalives 'on', ADD keepalives_idle '30',
  ADD keepalives_interval '10', ADD keepalives_count '3', ADD tcp_user_timeout '10000',
  ADD sslsni 'off', ADD ssl_min_protocol_version 'TLSv1.3', ADD channel_binding 'require',
  ADD gssencmode 'disable');
SELECT rank, id, payload->'remote_tls'->'item'->>'tls' AS tls
FROM apex_route('billing', k => 1, sources => '{remote_tls}');
-- TLS versions the server does not take (ssl_min_protocol_version: TLSv1.2)
ALTER SERVER remote_tls OPTIONS (SET ssl_min_protocol_version 'TLSv1', ADD ssl_max_protocol_version 'TLSv1.1');
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
-- a range libpq itself refuses
ALTER SERVER remote_tls OPTIONS (SET ssl_min_protocol_version 'TLSv1.3', SET ssl_max_protocol_version 'TLSv1.2');
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_tls,docs}');
ALTER SERVER remote_tls OPTIONS (DROP ssl_max_protocol_version);

-- application_name: the source's template replaces
-- apex_router.application_name for its connections, filled in for the
-- caller (who asks: the remote's pg_stat_activity)
CREATE SERVER remote_app FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           application_name 'docs-search %u@%d',
           query 'SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid() LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_app OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT id AS remote_application_name FROM apex_route('who', k => 1, sources => '{remote_app}');
GRANT USAGE ON FOREIGN SERVER remote_app TO pgtls_caller;
SET ROLE pgtls_caller;
SELECT id AS remote_application_name FROM apex_route('who', k => 1, sources => '{remote_app}');
RESET ROLE;
-- without it, the setting's (default: apex_router/VERSION (database; role))
ALTER SERVER remote_app OPTIONS (DROP application_name);
SELECT id ~ '^apex_router/[0-9.]+ \(contrib_regression; postgres\)$' AS the_setting
FROM apex_route('who', k => 1, sources => '{remote_app}');

-- target_session_attrs with two hosts: the first is down, the second is
-- up and read-write
\set ports :closed_port ',' :remote_pgport
ALTER SERVER remote_app OPTIONS (SET host '127.0.0.1,127.0.0.1', SET port :'ports',
  ADD target_session_attrs 'read-write');
SELECT count(*) AS rows FROM apex_route('who', k => 1, sources => '{remote_app}');
-- a standby is asked for, and there is none: libpq says so
ALTER SERVER remote_app OPTIONS (SET target_session_attrs 'standby');
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{remote_app,docs}');
-- requirepeer, over the remote's Unix socket: the operating-system user
-- the server runs as (the socket's path is in the message)
ALTER SERVER remote_app OPTIONS (SET host :'run_dir', SET port :'remote_pgport',
  DROP target_session_attrs, ADD requirepeer 'postgres');
SELECT count(*) AS rows FROM apex_route('who', k => 1, sources => '{remote_app}');
ALTER SERVER remote_app OPTIONS (SET requirepeer 'nobody');
SET client_min_messages = error;
SELECT DISTINCT replace(partial::text, :'run_dir', '$APEX_RUN_DIR') AS partial
FROM apex_route('billing', k => 1, sources => '{remote_app,docs}');
RESET client_min_messages;
DROP SERVER remote_app CASCADE;

-- option checks
ALTER SERVER remote_tls OPTIONS (ADD target_session_attrs 'primary-only');
ALTER SERVER remote_tls OPTIONS (SET sslsni 'maybe');
ALTER SERVER remote_tls OPTIONS (SET keepalives_idle '0');
ALTER SERVER remote_tls OPTIONS (SET ssl_min_protocol_version 'SSLv3');
ALTER SERVER remote_tls OPTIONS (SET channel_binding 'always');
ALTER SERVER remote_tls OPTIONS (SET sslrootcert 'relative/ca.crt');
ALTER SERVER remote_tls OPTIONS (ADD application_name 'who %x');
-- libpq's options the kind refuses, each with its reason
ALTER SERVER remote_tls OPTIONS (ADD connect_timeout '5');
ALTER SERVER remote_tls OPTIONS (ADD options '-c search_path=private');
ALTER SERVER remote_tls OPTIONS (ADD passfile '/var/lib/postgresql/.pgpass');
ALTER SERVER remote_tls OPTIONS (ADD service 'prod');
ALTER SERVER remote_tls OPTIONS (ADD client_encoding 'LATIN1');
-- one it does not know: the hint lists those it takes
ALTER SERVER remote_tls OPTIONS (ADD sslcompression 'on');
-- the client certificate and its passphrase belong to the user mapping
ALTER SERVER remote_tls OPTIONS (ADD sslcert '/tmp/client.crt');
ALTER SERVER remote_tls OPTIONS (ADD sslpassword 'key-pass');
-- and only postgres sources read them
CREATE SERVER pgtls_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', port :'redis_port');
CREATE USER MAPPING FOR pgtls_caller SERVER pgtls_redis OPTIONS (password 'redis-pass', sslpassword 'x');
DROP SERVER pgtls_redis;

-- files the database server reads are for superusers to name; so is the
-- name the remote's logs show
CREATE ROLE pgtls_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO pgtls_owner;
\set allowed '127.0.0.1:' :remote_pgport
SET apex_router.allowed_hosts = :'allowed';
SET ROLE pgtls_owner;
CREATE SERVER own_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', query 'SELECT 1',
           sslmode 'verify-ca', sslrootcert '/etc/ssl/certs/ca-certificates.crt');
CREATE SERVER own_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', query 'SELECT 1',
           application_name 'not me');
-- the rest are the owner's to set; every host of a list is checked
CREATE SERVER own_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', query 'SELECT 1',
           sslmode 'require', target_session_attrs 'read-write', keepalives_idle '60');
CREATE USER MAPPING FOR pgtls_owner SERVER own_pg
  OPTIONS (user 'apex_cert', password 'cert-pass', sslcert '/tmp/client.crt', sslkey '/tmp/client.key');
CREATE USER MAPPING FOR pgtls_owner SERVER own_pg
  OPTIONS (user 'apex_remote', password 'remote-pass', sslpassword 'not a file');
ALTER SERVER own_pg OPTIONS (SET host '127.0.0.1,localhost');
-- a mapping a superuser gave a client certificate: its user may no longer
-- alter it (the validator sees the whole list), as with postgres_fdw
RESET ROLE;
ALTER USER MAPPING FOR pgtls_owner SERVER own_pg OPTIONS (ADD sslcert :'client_crt');
SET ROLE pgtls_owner;
ALTER USER MAPPING FOR pgtls_owner SERVER own_pg OPTIONS (SET password 'new-pass');
RESET ROLE;
RESET apex_router.allowed_hosts;
DROP SERVER own_pg CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM pgtls_owner;
DROP ROLE pgtls_owner;

-- sslpassword is a secret: a remote echo of it is masked for readers of
-- the mapping, and hidden from the others
ALTER SERVER remote_tls OPTIONS (SET query 'SELECT raise_for($1)');
SELECT rank FROM apex_route('key-pass', sources => '{remote_tls}');
SET ROLE pgtls_caller;
SELECT rank FROM apex_route('key-pass', sources => '{remote_tls}');
RESET ROLE;

DROP SERVER remote_tls CASCADE;
REVOKE ALL ON FOREIGN DATA WRAPPER apex_router FROM pgtls_caller;
DROP ROLE pgtls_caller;
