/*
 * Listings through libsmartcols, the way lsipc and lslocks do it: each
 * listing describes its columns once (struct out_column[]), -o picks some
 * ("+LIST" appends to the defaults), -r raw, -n no headings, -J JSON whose
 * top-level key is the command name and whose numbers are JSON numbers.
 */
#include <err.h>
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
static char	*out_json_inner(struct libscols_table *, size_t *);

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

void
out_columns_default(struct out_spec *spec, const int *ids, size_t n)
{
	size_t i;

	spec->nids = 0;
	for (i = 0; i < n && i < OUT_MAXCOLS; i++)
		spec->ids[spec->nids++] = ids[i];
}

/* -o LIST or -o +LIST.  0, or a message was printed and 2 is returned. */
int
out_columns_parse(struct out_spec *spec, const char *list)
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
			warnx("-o: unknown column '%.*s'", (int)(q - p), p);
			fprintf(stderr, "%s\n", WAPICTL_HINT);
			return WAPICTL_EXIT_USAGE;
		}
		if (spec->nids == OUT_MAXCOLS) {
			warnx("-o: too many columns");
			return WAPICTL_EXIT_USAGE;
		}
		spec->ids[spec->nids++] = id;
	}
	if (spec->nids == 0) {
		warnx("-o: no column named");
		fprintf(stderr, "%s\n", WAPICTL_HINT);
		return WAPICTL_EXIT_USAGE;
	}
	return 0;
}

void
out_columns_help(const struct out_column *cols, size_t n)
{
	size_t i;

	printf("\ncolumns (-o):\n");
	for (i = 0; i < n; i++)
		printf("  %-14s%s\n", cols[i].name, cols[i].help);
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

struct libscols_table *
out_table_new(const struct wapictl *ctl, const char *name,
    const struct out_spec *spec, bool raw, bool noheadings)
{
	struct libscols_table *tb;
	struct libscols_column *cl;
	const struct out_column *c;
	size_t i;

	if ((tb = scols_new_table()) == NULL)
		err(WAPICTL_EXIT_ACCESS, "scols_new_table");
	scols_table_set_name(tb, name);
	scols_table_enable_raw(tb, raw);
	scols_table_enable_noheadings(tb, noheadings);
	scols_table_enable_json(tb, ctl->json);
	for (i = 0; i < spec->nids; i++) {
		c = &spec->cols[spec->ids[i]];
		/* Raw and JSON output never truncate. */
		cl = scols_table_new_column(tb, c->name, c->whint,
		    (raw || ctl->json) ? (c->flags & ~SCOLS_FL_TRUNC) : c->flags);
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
