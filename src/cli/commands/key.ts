import { addKey, listKeys, removeKey, shortId } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, readPasswordFile, say } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { formatSnapshotTime, formatTable } from '../format.js';

export async function keyListCommand(g: GlobalOptions): Promise<number> {
  const repo = await openRepo(g);
  const keys = await listKeys(repo.backend);
  if (g.json) {
    printJSON(keys.map((k) => ({ current: k.id === repo.keyId, id: k.id, user_name: k.username, host_name: k.hostname, created: k.created })));
    return 0;
  }
  // restic's key table: the key in use marked with `*`.
  const rows = keys.map((k) => [`${k.id === repo.keyId ? '*' : ' '}${shortId(k.id)}`, k.username, k.hostname, formatSnapshotTime(k.created)]);
  for (const line of formatTable([' ID', 'User', 'Host', 'Created'], rows)) say(g, line);
  return 0;
}

function newPassword(file: string | undefined): string {
  if (file) return readPasswordFile(file);
  const pw = process.env.COFFER_NEW_PASSWORD;
  if (pw === undefined || pw === '') throw new UsageError('no new password given: use --new-password-file or set COFFER_NEW_PASSWORD');
  return pw;
}

export async function keyAddCommand(g: GlobalOptions, o: { newPasswordFile?: string; user?: string; host?: string }): Promise<number> {
  const pw = newPassword(o.newPasswordFile);
  const repo = await openRepo(g);
  const id = await addKey(repo.backend, repo.key, pw, undefined, { ...(o.user ? { username: o.user } : {}), ...(o.host ? { hostname: o.host } : {}) });
  if (g.json) printJSON({ message_type: 'key_added', id });
  else say(g, `saved new key with ID ${id}`);
  return 0;
}

export async function keyRemoveCommand(g: GlobalOptions, id: string): Promise<number> {
  const repo = await openRepo(g);
  await removeKey(repo.backend, id, repo.keyId);
  if (g.json) printJSON({ message_type: 'key_removed', id });
  else say(g, `removed key ${id}`);
  return 0;
}
