/**
 * The page at `/` for a person who opens the server's address in a browser: Coffer's name and
 * version and where to go from there (API docs, health, metrics, the OpenAPI document, the CLI).
 * Public, static HTML without script, under a Content-Security-Policy that allows none, so the
 * page can carry nothing but its own markup and style. A web UI, when there is one, replaces this
 * module.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { DOCS_PREFIX, OPENAPI_PATH } from './docs.js';

const STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#222}'
  + 'code{background:#f2f2f2;padding:0 .25em}li{margin:.3em 0}';

/** Nothing may load or run but the page's own inline style (allowed by its hash), and no site may frame it. */
export const FRONT_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of the page: the policy above, no MIME sniffing, no framing, no referrer to the pages it links. */
export const FRONT_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': FRONT_PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function frontPageHtml(version: string): string {
  const v = escapeHtml(version);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Coffer ${v}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Coffer <small>${v}</small></h1>
<p>Self-hosted backup and restore server.</p>
<ul>
<li><a href="${DOCS_PREFIX}">API documentation</a> (Swagger UI; sign in there with an API key or a user name and password)</li>
<li><a href="${OPENAPI_PATH}">OpenAPI document</a> (<code>${OPENAPI_PATH}</code>)</li>
<li><a href="/healthz">Health</a> (<code>/healthz</code>, public)</li>
<li><a href="/metrics">Metrics</a> (<code>/metrics</code>, Prometheus text; needs credentials)</li>
</ul>
<p>From a shell: <code>npx coffer --help</code> lists the commands (backup, restore, snapshots, <code>coffer admin</code> on this machine).</p>
</body>
</html>
`;
}

export const frontPagePlugin: FastifyPluginAsync<{ version: string }> = async (app, opts) => {
  const html = frontPageHtml(opts.version);
  // GET, and HEAD (Fastify adds it for every GET route) with the same headers and no body.
  app.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.headers(FRONT_PAGE_HEADERS).type('text/html; charset=utf-8');
    return html;
  });
};
