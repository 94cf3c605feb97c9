/**
 * uid → user name and gid → group name, as restic records them in nodes. Node has no getpwuid,
 * so /etc/passwd and /etc/group are read once per process.
 */
import { readFileSync } from 'node:fs';

function readIdMap(file: string): Map<number, string> {
  const map = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0]) {
      const id = Number(f[2]);
      if (Number.isInteger(id) && !map.has(id)) map.set(id, f[0]);
    }
  }
  return map;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string | undefined {
  users ??= readIdMap('/etc/passwd');
  return users.get(uid);
}

export function groupName(gid: number): string | undefined {
  groups ??= readIdMap('/etc/group');
  return groups.get(gid);
}
