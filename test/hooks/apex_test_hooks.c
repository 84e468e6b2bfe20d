/*-------------------------------------------------------------------------
 *
 * apex_test_hooks.c
 *		  Test-only functions for apex_router's regression tests: ways for a
 *		  background worker to fail that no SQL statement can cause.
 *
 * Every way SQL ends a backend (pg_terminate_backend, a FATAL error) sends
 * an error message first, which a worker forwards to its caller through its
 * queue.  A worker whose code calls exit() says nothing: these functions
 * make one do so, and hold a worker still, so that the caller's handling
 * of a silent exit can be tested (test/sql/worker_exits.sql).  The tests
 * create the functions themselves; see test/hooks/Makefile.
 *
 * IDENTIFICATION
 *		  test/hooks/apex_test_hooks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/procarray.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(apex_test_exit_silently);
PG_FUNCTION_INFO_V1(apex_test_signal);

/*
 * apex_test_exit_silently(code int) RETURNS boolean: the background worker
 * running it exits at once with code, without an error message (as code
 * calling exit() would).  Only 0 and 1: any other code of a backend makes
 * the postmaster restart every backend.  Refused outside a background
 * worker, so that a query falling back to the caller's session fails
 * instead of ending that session without a word.
 */
Datum
apex_test_exit_silently(PG_FUNCTION_ARGS)
{
	int32		code = PG_GETARG_INT32(0);

	if (MyBackendType != B_BG_WORKER)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("apex_test_exit_silently works only in a background worker")));
	if (code != 0 && code != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("exit code %d is not 0 or 1", code),
				 errdetail("Any other exit code makes the postmaster restart every backend.")));
	proc_exit(code);
	PG_RETURN_BOOL(false);		/* not reached */
}

/*
 * apex_test_signal(pid int, what text) RETURNS boolean: send SIGSTOP
 * ('stop') or SIGCONT ('cont') to the backend or background worker pid, so
 * that a test can hold a worker still while something happens to it.
 */
Datum
apex_test_signal(PG_FUNCTION_ARGS)
{
	int32		pid = PG_GETARG_INT32(0);
	char	   *what = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int			sig;

	if (strcmp(what, "stop") == 0)
		sig = SIGSTOP;
	else if (strcmp(what, "cont") == 0)
		sig = SIGCONT;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("signal \"%s\" is not \"stop\" or \"cont\"", what)));
	if (pid == MyProcPid || BackendPidGetProc(pid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("PID %d is not another PostgreSQL backend", pid)));
	PG_RETURN_BOOL(kill(pid, sig) == 0);
}
