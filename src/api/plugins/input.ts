/**
 * What arrives before validation: JSON bodies (an empty one counts as none, `__proto__` and
 * `constructor.prototype` keys are refused as Fastify does by default), no parser for other media
 * types (so they are 415, not a string that fails validation), and no NUL characters or absurd
 * nesting anywhere in body, query or path: PostgreSQL cannot store a NUL in text, and a request
 * must never reach the catalog only to fail there with a 500.
 */
import fp from 'fastify-plugin';
import { CoreError } from '../../core/index.js';

const MAX_DEPTH = 32;

function badRequest(message: string): CoreError {
  return new CoreError('invalid', message);
}

function refusePoison(key: string, value: unknown): unknown {
  if (key === '__proto__') throw badRequest('body must not contain a __proto__ key');
  if (key === 'constructor' && typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, 'prototype')) {
    throw badRequest('body must not contain constructor.prototype');
  }
  return value;
}

function fieldPath(base: string, key: string | number): string {
  return typeof key === 'number' ? `${base}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key.slice(0, 40))}]`;
}

/** Walks a parsed value without recursion (a deep array must not overflow the stack). */
export function checkValue(root: unknown, label: string): void {
  const stack: { v: unknown; at: string; depth: number }[] = [{ v: root, at: label, depth: 0 }];
  while (stack.length) {
    const { v, at, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) throw badRequest(`${at} must not contain NUL characters`);
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= MAX_DEPTH) throw badRequest(`${at} is nested more than ${MAX_DEPTH} levels deep`);
      if (Array.isArray(v)) v.forEach((item, i) => stack.push({ v: item, at: fieldPath(at, i), depth: depth + 1 }));
      else {
        for (const [k, item] of Object.entries(v)) {
          if (k.includes('\0')) throw badRequest(`${at} has a field name with a NUL character`);
          stack.push({ v: item, at: fieldPath(at, k), depth: depth + 1 });
        }
      }
    }
  }
}

export const inputPlugin = fp(async (app) => {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text, refusePoison));
    } catch (err) {
      done(err instanceof CoreError ? err : badRequest(`body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addHook('preValidation', async (request) => {
    // No body at all means "no fields" (POST /create with defaults, restore of everything); a JSON null is still wrong.
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
    checkValue(request.body, 'body');
    checkValue(request.query, 'query');
    checkValue(request.params, 'params');
  });
}, { name: 'coffer-input', fastify: '5.x' });
