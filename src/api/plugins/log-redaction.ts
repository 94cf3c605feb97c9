/**
 * The request log's view of a request: Fastify's default fields, with the URL's credentials
 * masked. Syncano's clients send the API key as `?api_key=`, and a partial backup's archive link
 * carries its bearer token in the path (`/v1/archives/<token>/backup.zip`); neither may reach a log.
 */
import type { FastifyRequest } from 'fastify';

/** Query parameters whose value is a credential (case-insensitive). */
const SECRET_PARAM = /^(api[_-]?key|key|token|access[_-]?token|secret|password|sig|signature|x-amz-signature|x-amz-credential)$/i;
const ARCHIVE_PATH = /^(\/v1\/archives\/)[^/?]+/;

export const REDACTED = '[redacted]';

export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const pathPart = (q < 0 ? url : url.slice(0, q)).replace(ARCHIVE_PATH, `$1${REDACTED}`);
  if (q < 0) return pathPart;
  const query = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name = rawName;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      // a malformed escape: judge the name as written
    }
    return SECRET_PARAM.test(name) && eq >= 0 ? `${rawName}=${REDACTED}` : pair;
  });
  return `${pathPart}?${query.join('&')}`;
}

/** pino's `req` serializer for Fastify's request log. */
export function redactedRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.raw.url ?? request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
