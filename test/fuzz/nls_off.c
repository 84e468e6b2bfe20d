/*-------------------------------------------------------------------------
 *
 * nls_off.c
 *		  Preloaded next to the ASan runtime into "postgres --single" (see
 *		  run.sh): turns bindtextdomain() into a no-op.
 *
 * With the ASan runtime preloaded, the postgres 15 binary of Debian 12 hangs
 * before main() finishes: libraries it links (libgpg-error, gnutls) call
 * bindtextdomain() from their constructors, before ASan's own constructor,
 * and glibc's gettext lock ends up corrupted, so postgres' own
 * bindtextdomain() call in main() waits on it forever.  Seen with clang 14's
 * and gcc 12's ASan runtimes alike; without any bindtextdomain() there is
 * no hang.  The fuzzing backend needs no message translations.
 *
 * IDENTIFICATION
 *		  test/fuzz/nls_off.c
 *
 *-------------------------------------------------------------------------
 */
extern char *bindtextdomain(const char *domain, const char *dir);

char *
bindtextdomain(const char *domain, const char *dir)
{
	(void) domain;
	return (char *) dir;
}
