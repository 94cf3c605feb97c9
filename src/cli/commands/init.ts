import { Repository, shortId } from '../../repo/index.js';
import { type GlobalOptions, backendFor, password, printJSON, say } from '../context.js';

export async function initCommand(g: GlobalOptions): Promise<number> {
  const backend = backendFor(g);
  const repo = await Repository.init(backend, await password(g, true));
  if (g.json) printJSON({ message_type: 'initialized', id: repo.config.id, repository: backend.location });
  else say(g, `created coffer repository ${shortId(repo.config.id)} at ${backend.location}`);
  return 0;
}
