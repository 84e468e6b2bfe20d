\set ECHO none
-- The end of an area that included include/workers.sql
DROP FUNCTION apex_workers_settled, apex_workers_gone, apex_worker_running;
\set ECHO all
