/*
 * Listings through libsmartcols, the way lsipc and lslocks do it: each
 * listing describes its columns once (struct out_column[]), -o picks some
 * ("+LIST" appends to the defaults), -r raw, -n no headings, -l no
 * truncation, -J JSON whose top-level key is the command name, whose
 * numbers are JSON numbers and whose yes/no are JSON booleans.  Those
 * options of a listing are declared here, once, for every command whose
 * entry has columns; with -A the HOST column comes first.  On a terminal,
 * a column of free text (SCOLS_FL_TRUNC: a reason, details) is cut to the
 * terminal's width; raw, JSON, -l and a pipe get the whole text.  An age
 * is a number of seconds in JSON and "5m3s" for people: out_age().  A
 * column that people read as "N/M" is two columns in JSON:
 * out_spec_split().
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libsmartcols.h>

#include "wapictl.h"

/*
 * Whether a cell so far holds a byte outside printable ASCII.  Until one
 * does, libsmartcols has nothing to encode (its \x escapes keep control
 * characters off the terminal) and out_print spares it the pass, a
 * multibyte conversion per character: 10,000 rows of paths and reasons.
 */
static bool	out_needs_encoding;

static int	out_column_find(const struct out_spec *, const char *, size_t);
static int	out_columns_parse(struct out_spec *, const struct cmd_args *,
		    const char *);
static char	*out_json_inner(struct libscols_table *, size_t *);

/* The options of every listing (struct cmd_entry with columns). */
const struct cmd_option out_listing_options[] = {
	{ "output", required_argument, 'o', "COLUMNS",
	    "columns to show (+COLUMNS adds to the default)" },
	{ "raw", no_argument, 'r', NULL, "raw output" },
	{ "noheadings", no_argument, 'n', NULL, "no headings" },
	{ "notruncate", no_argument, 'l', NULL,
	    "whole texts, not cut to the terminal's width" },
	CMD_OPTION_END
};

static int
out_column_find(const struct out_spec *spec, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < spec->ncols; i++)
		if (strlen(spec->cols[i].name) == len &&
		    strncasecmp(spec->cols[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* The columns of a table and the default ones; -J from ctl. */
void
out_spec_init(struct out_spec *spec, const struct wapictl *ctl,
    const struct out_column *cols, size_t ncols, const int *ids, size_t n)
{
	spec->cols = cols;
	spec->ncols = ncols;
	spec->json = ctl->json;
	spec->nids = 0;
	out_spec_add(spec, ids, n);
}

void
out_spec_add(struct out_spec *spec, const int *ids, size_t n)
{
	size_t i;

	for (i = 0; i < n && spec->nids < OUT_MAXCOLS; i++)
		spec->ids[spec->nids++] = ids[i];
}

/* -o LIST or -o +LIST.  0, or -EINVAL (said, as a usage error). */
static int
out_columns_parse(struct out_spec *spec, const struct cmd_args *args,
    const char *list)
{
	const char *p, *q;
	int id;

	if (*list == '+')
		list++;
	else
		spec->nids = 0;
	for (p = list; *p != '\0'; p = *q ? q + 1 : q) {
		q = strchr(p, ',');
		if (q == NULL)
			q = p + strlen(p);
		if (q == p)
			continue;
		if ((id = out_column_find(spec, p, (size_t)(q - p))) < 0) {
			wapictl_usage_error(args->entry, "-o: unknown column "
			    "'%.*s'", (int)(q - p), p);
			return -EINVAL;
		}
		if (spec->nids == OUT_MAXCOLS) {
			wapictl_usage_error(args->entry, "-o: too many columns");
			return -EINVAL;
		}
		spec->ids[spec->nids++] = id;
	}
	if (spec->nids == 0) {
		wapictl_usage_error(args->entry, "-o: no column named");
		return -EINVAL;
	}
	return 0;
}

/*
 * The listing's options that choose columns: with -A, host_col first
 * unless -o replaces the default columns; then -o.  0, or -EINVAL (said).
 */
int
out_spec_options(struct out_spec *spec, const struct wapictl *ctl,
    const struct cmd_args *args, int host_col)
{
	const char *ocols = args_get(args, 'o');

	if (ctl->all_hosts && (ocols == NULL || *ocols == '+') &&
	    spec->nids < OUT_MAXCOLS) {
		memmove(&spec->ids[1], &spec->ids[0],
		    spec->nids * sizeof(spec->ids[0]));
		spec->ids[0] = host_col;
		spec->nids++;
	}
	if (ocols != NULL)
		return out_columns_parse(spec, args, ocols);
	return 0;
}

/*
 * In JSON, column id (chosen) is replaced by the columns of with[] in its
 * place, each once, those chosen on their own left where they are (with[]
 * may hold id itself): "live/recorded" for people becomes two numbers.
 * Nothing changes for people.
 */
void
out_spec_split(struct out_spec *spec, int id, const int *with, size_t n)
{
	struct out_spec split = *spec;
	size_t i, j;

	if (!spec->json || !out_has(spec, id))
		return;
	split.nids = 0;
	for (i = 0; i < spec->nids; i++) {
		if (spec->ids[i] != id) {
			out_spec_add(&split, &spec->ids[i], 1);
			continue;
		}
		for (j = 0; j < n; j++)
			if (!out_has(&split, with[j]) && (with[j] == id ||
			    !out_has(spec, with[j])))
				out_spec_add(&split, &with[j], 1);
	}
	*spec = split;
}

void
out_columns_help(const struct out_column *cols, size_t n)
{
	size_t i, w = 12;

	for (i = 0; i < n; i++)
		w = MAX(w, strlen(cols[i].name));
	printf("\ncolumns (-o):\n");
	for (i = 0; i < n; i++)
		printf("  %-*s%s\n", (int)w + 2, cols[i].name, cols[i].help);
}

bool
out_has(const struct out_spec *spec, int id)
{
	size_t i;

	for (i = 0; i < spec->nids; i++)
		if (spec->ids[i] == id)
			return true;
	return false;
}

/* A table of spec's columns; a listing's -r and -n from args. */
struct libscols_table *
out_table_new(const char *name, const struct out_spec *spec,
    const struct cmd_args *args)
{
	struct libscols_table *tb;
	struct libscols_column *cl;
	const struct out_column *c;
	bool listing = args->entry->columns != NULL;
	bool raw = listing && args_has(args, 'r');
	bool whole = raw || spec->json || (listing && args_has(args, 'l'));
	size_t i;

	if ((tb = scols_new_table()) == NULL)
		err(WAPICTL_EXIT_ACCESS, "scols_new_table");
	scols_table_set_name(tb, name);
	scols_table_enable_raw(tb, raw);
	scols_table_enable_noheadings(tb, listing && args_has(args, 'n'));
	scols_table_enable_json(tb, spec->json);
	for (i = 0; i < spec->nids; i++) {
		c = &spec->cols[spec->ids[i]];
		/* Raw, JSON and -l output never truncate. */
		cl = scols_table_new_column(tb, c->name, c->whint,
		    whole ? (c->flags & ~SCOLS_FL_TRUNC) : c->flags);
		if (cl == NULL)
			err(WAPICTL_EXIT_ACCESS, "scols_table_new_column");
		scols_column_set_json_type(cl, c->json);
	}
	return tb;
}

struct libscols_line *
out_line_new(struct libscols_table *tb)
{
	struct libscols_line *ln;

	if ((ln = scols_table_new_line(tb, NULL)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "scols_table_new_line");
	return ln;
}

/* Set column id of a line, if that column was chosen. */
void
out_cell(struct libscols_line *ln, const struct out_spec *spec, int id,
    const char *fmt, ...)
{
	const unsigned char *p;
	va_list ap;
	char *s;
	size_t i;

	for (i = 0; i < spec->nids; i++) {
		if (spec->ids[i] != id)
			continue;
		va_start(ap, fmt);
		if (vasprintf(&s, fmt, ap) < 0)
			err(WAPICTL_EXIT_ACCESS, "vasprintf");
		va_end(ap);
		for (p = (const unsigned char *)s; !out_needs_encoding &&
		    *p != '\0'; p++)
			if (*p < 0x20 || *p > 0x7e)
				out_needs_encoding = true;
		/* An empty number cell is JSON null, not "". */
		if (scols_line_refer_data(ln, i, s) != 0)
			err(WAPICTL_EXIT_ACCESS, "scols_line_refer_data");
	}
}

/*
 * A yes/no cell: a JSON boolean, "yes" or "no" for people.  What is not
 * known is null in JSON (an empty cell of a SCOLS_JSON_BOOLEAN_OPTIONAL
 * column) and unknown_word for people.
 */
void
out_bool(struct libscols_line *ln, const struct out_spec *spec, int id,
    bool known, bool yes, const char *unknown_word)
{
	if (!known && spec->json)
		return;
	out_cell(ln, spec, id, "%s", !known ? unknown_word : yes ? "yes" :
	    "no");
}

/*
 * An age or a duration (wcore_age_s): a number of seconds in JSON, "5m3s"
 * for people (target_duration).  A time further in the future than clocks
 * drift apart is "in the future" (a negative number in JSON); one just
 * ahead is 0.  Only formatted when the column is shown.
 */
void
out_age(struct libscols_line *ln, const struct out_spec *spec, int id,
    int64_t seconds)
{
	char d[32];

	if (!out_has(spec, id))
		return;
	if (seconds < 0 && seconds >= -WCORE_FUTURE_SLACK_S)
		seconds = 0;
	if (seconds < 0 && !spec->json) {
		out_cell(ln, spec, id, "in the future");
		return;
	}
	if (spec->json) {
		out_cell(ln, spec, id, "%" PRId64, seconds);
		return;
	}
	target_duration(seconds, d, sizeof(d));
	out_cell(ln, spec, id, "%s", d);
}

/*
 * s made safe to print on a terminal, into buf: printable ASCII as it is,
 * a backslash doubled, any other byte (control characters, escape
 * sequences, newlines that would forge a line, bytes of UTF-8) as \xNN,
 * the way libsmartcols encodes cells.  A name from disk or the command
 * line goes through this before it reaches a message.  Truncated to len,
 * ending with "..." when cut.
 */
void
out_escape(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	int w;

	if (len == 0)
		return;
	for (; *p != '\0'; p++) {
		if (*p == '\\')
			w = snprintf(buf + n, len - n, "\\\\");
		else if (*p < 0x20 || *p > 0x7e)
			w = snprintf(buf + n, len - n, "\\x%02x", *p);
		else
			w = snprintf(buf + n, len - n, "%c", *p);
		if (w < 0 || (size_t)w >= len - n) {
			buf[n] = '\0';
			if (len > 4)
				memcpy(buf + MIN(n, len - 4), "...", 4);
			return;
		}
		n += (size_t)w;
	}
	buf[n] = '\0';
}

/* Print the table and free it. */
int
out_print(struct libscols_table *tb)
{
	int r;

	/* Only the plain table: raw and JSON output quote on their own. */
	if (!out_needs_encoding && !scols_table_is_raw(tb) &&
	    !scols_table_is_json(tb) && !scols_table_is_export(tb))
		scols_table_enable_noencoding(tb, 1);
	r = scols_print_table(tb);
	scols_unref_table(tb);
	return r;
}

/* Free the table unprinted (-q). */
void
out_discard(struct libscols_table *tb)
{
	scols_unref_table(tb);
}

/* A table as JSON text, without its outer braces. */
static char *
out_json_inner(struct libscols_table *tb, size_t *len)
{
	char *buf = NULL, *b, *e;
	size_t n = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &n)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "open_memstream");
	scols_table_set_stream(tb, f);
	scols_print_table(tb);
	scols_unref_table(tb);
	if (fclose(f) != 0 || buf == NULL)
		err(WAPICTL_EXIT_ACCESS, "open_memstream");
	if ((b = strchr(buf, '{')) == NULL || (e = strrchr(buf, '}')) == NULL ||
	    e < b)
		errx(WAPICTL_EXIT_ACCESS, "libsmartcols: unexpected JSON");
	while (e > b + 1 && (e[-1] == '\n' || e[-1] == ' '))
		e--;
	*len = (size_t)(e - (b + 1));
	memmove(buf, b + 1, *len);
	return buf;
}

/*
 * Two tables as one JSON document, {"first": [...], "second": [...]}, so
 * that -J stays a single object whose first key is the command name.
 */
int
out_print_json_pair(struct libscols_table *first, struct libscols_table *second)
{
	char *a, *b;
	size_t la, lb;

	a = out_json_inner(first, &la);
	b = out_json_inner(second, &lb);
	printf("{%.*s,%.*s\n}\n", (int)la, a, (int)lb, b);
	free(a);
	free(b);
	return 0;
}
