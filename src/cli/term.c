/* term.c — terminal helpers (see term.h). */
#include "term.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool term_is_tty(FILE *f) {
    const char *t = getenv("TERM");
    return isatty(fileno(f)) && !(t && !strcmp(t, "dumb"));
}
bool term_color(FILE *f) { return term_is_tty(f) && !getenv("NO_COLOR"); }
const char *term_dim(FILE *f) { return term_color(f) ? "\033[2m" : ""; }
const char *term_reset(FILE *f) { return term_color(f) ? "\033[0m" : ""; }

void term_status(FILE *f, const char *fmt, ...) {
    if (!term_is_tty(f)) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", f);
    fputs(term_dim(f), f);
    vfprintf(f, fmt, ap);
    fputs(term_reset(f), f);
    va_end(ap);
    fflush(f);
}

void term_status_clear(FILE *f) {
    if (!term_is_tty(f)) return;
    fputs("\r\033[K", f);
    fflush(f);
}
