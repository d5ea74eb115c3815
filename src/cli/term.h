/* term.h — terminal helpers for the CLI: TTY detection, dim text, one-line live status. */
#ifndef R1_TERM_H
#define R1_TERM_H
#include <stdbool.h>
#include <stdio.h>

/* True when f is a terminal and $TERM is not "dumb" (and $NO_COLOR unset for styling). */
bool term_is_tty(FILE *f);
bool term_color(FILE *f);
/* ANSI sequences, or "" when f is not a color terminal. */
const char *term_dim(FILE *f);
const char *term_reset(FILE *f);
/* Rewrites the current line of f with a status text (TTY only; no-op otherwise). */
void term_status(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clears the status line written by term_status. */
void term_status_clear(FILE *f);
#endif
