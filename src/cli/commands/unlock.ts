import { removeLocks } from '../../repo/index.js';
import { type GlobalOptions, openRepo, printJSON, say } from '../context.js';
import { plural } from '../format.js';

export async function unlockCommand(g: GlobalOptions, o: { removeAll?: boolean }): Promise<number> {
  const n = await removeLocks(await openRepo(g), !!o.removeAll);
  if (g.json) printJSON({ message_type: 'unlock', removed_locks: n });
  else say(g, n === 0 ? 'no locks were removed' : `successfully removed ${plural(n, 'lock')}`);
  return 0;
}
