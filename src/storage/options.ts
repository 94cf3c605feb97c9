/**
 * A repository's backend options: restic's `-o key=value` pairs (`s3.region`, `azure.endpoint-suffix`, …)
 * and the credentials a provider needs (`s3.access-key-id`, `azure.account-key`, …). The server keeps
 * them sealed with its secret; the CLI takes them from `-o` and the environment.
 */
export type BackendOptions = Readonly<Record<string, string>>;

/** Parses `key=value` as given to `-o`; the value may itself contain `=`. */
export function parseOptionAssignment(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new Error(`option ${JSON.stringify(text)} is not key=value`);
  return [text.slice(0, at).trim(), text.slice(at + 1)];
}

/** The first option among `keys` that is set, else the first environment variable among `vars` that is. */
export function optionOrEnv(options: BackendOptions, keys: readonly string[], env: NodeJS.ProcessEnv, vars: readonly string[]): string | undefined {
  for (const k of keys) if (options[k] !== undefined && options[k] !== '') return options[k];
  for (const v of vars) if (env[v] !== undefined && env[v] !== '') return env[v];
  return undefined;
}
