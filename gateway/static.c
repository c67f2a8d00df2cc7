/* static.c - the web client's files from PARLEY_WEB_DIR at /. Paths with
 * ".." or a hidden component are refused; "/" serves index.html. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <libwebsockets.h>

#include "gw.h"
#include "gw_http.h"
#include "gw_server.h"
#include "gw_static.h"

static const struct {
	const char *ext;
	const char *mime;
} gw_static_mimes[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
};

/* gw_static_mime - content type by extension */
static const char *
gw_static_mime(const char *path)
{
	const char *dot = strrchr(path, '.');
	size_t i;

	for (i = 0; dot && i < sizeof(gw_static_mimes) / sizeof(gw_static_mimes[0]); i++)
		if (strcmp(dot, gw_static_mimes[i].ext) == 0)
			return gw_static_mimes[i].mime;
	return "application/octet-stream";
}

/* gw_static_not_found - 404 and finish the transaction */
static int
gw_static_not_found(struct lws *wsi)
{
	static const char body[] = "{\"ok\":false,\"error\":\"not_found\"}";

	if (gw_http_respond(wsi, 404, "application/json", body, sizeof(body) - 1, 0) < 0)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* gw_static_serve - serve path from the web directory */
int
gw_static_serve(struct lws *wsi, const char *path)
{
	char file[1024];
	struct stat st;
	int n;

	if (path[0] != '/' || strstr(path, "..") != NULL || strstr(path, "/.") != NULL)
		return gw_static_not_found(wsi);
	n = snprintf(file, sizeof(file), "%s%s%s", gw_conf.web_dir, path,
	    path[strlen(path) - 1] == '/' ? "index.html" : "");
	if (n <= 0 || (size_t)n >= sizeof(file) || stat(file, &st) != 0 ||
	    !S_ISREG(st.st_mode))
		return gw_static_not_found(wsi);
	n = lws_serve_http_file(wsi, file, gw_static_mime(file), NULL, 0);
	if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
		return -1;
	return 0;
}

/* gw_static_init - serve every GET the server does not route elsewhere */
int
gw_static_init(void)
{
	gw_server_set_files(gw_static_serve);
	return 0;
}
