import { VERSION } from '../../repo/index.js';
import { type GlobalOptions, printJSON } from '../context.js';

/** As `restic version`: the program's version and what it runs on. */
export async function versionCommand(g: GlobalOptions): Promise<number> {
  if (g.json) printJSON({ message_type: 'version', version: VERSION, node_version: process.version, os: process.platform, arch: process.arch });
  else process.stdout.write(`coffer ${VERSION} running on node ${process.version} on ${process.platform}/${process.arch}\n`);
  return 0;
}
