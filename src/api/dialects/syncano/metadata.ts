/**
 * The OPTIONS document of the backup lists (Django REST framework's metadata, docs/dialects.md), with
 * `actions.POST.query_args.schema` made from the instance's parts: every part name is a key whose
 * value is null (the whole part) or a list of items. The items of a directory part are paths
 * relative to the part's root, at any depth (`img`, `docs/2016/report.txt`); the schema says
 * "strings" and core checks each path (relative, no `..`) when the backup is created.
 */
import type { Part } from '../../../core/index.js';

const RENDERS = ['application/json', null, 'text/html'];
// Syncano also parsed multipart/form-data (for archive uploads, which Coffer does not take here).
const PARSES = ['application/json', 'application/x-www-form-urlencoded'];

const readOnly = (type: string, label: string) => ({ type, required: false, read_only: true, label });
const writable = (label: string, maxLength: number) => ({ type: 'string', required: false, read_only: false, label, max_length: maxLength });

/** The JSON schema of query_args for these parts. */
export function queryArgsSchema(parts: readonly Part[]): Record<string, unknown> {
  const items = { anyOf: [{ type: 'null' }, { items: { type: 'string' }, type: 'array' }] };
  return { additionalProperties: false, type: 'object', properties: Object.fromEntries(parts.map((p) => [p.name, items])) };
}

export function backupListMetadata(scope: 'full' | 'partial', parts: readonly Part[]) {
  const post: Record<string, unknown> = {
    id: readOnly('integer', 'ID'),
    instance: readOnly('field', 'Instance'),
    created_at: readOnly('datetime', 'Created at'),
    updated_at: readOnly('datetime', 'Updated at'),
    ...(scope === 'partial' ? { archive: readOnly('file upload', 'Archive') } : {}),
    size: readOnly('integer', 'Size'),
    status: readOnly('choice', 'Status'),
    status_info: readOnly('string', 'Status info'),
    description: writable('Description', 256),
    label: writable('Label', 64),
    ...(scope === 'partial' ? { query_args: { type: 'field', required: true, read_only: false, label: 'Query args', schema: queryArgsSchema(parts) } } : {}),
    links: { links: [{ type: 'detail', name: 'self' }] },
  };
  return { name: scope === 'partial' ? 'Partial Backup List' : 'Full Backup List', description: '', renders: RENDERS, parses: PARSES, actions: { POST: post } };
}
