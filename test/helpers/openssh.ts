/**
 * OpenSSH client options for tests and the drill: our known_hosts only, keys only (no agent, no
 * password prompts), short timeouts, quiet. Without a key file, public keys are not tried.
 */
export function opensshOptions(knownHosts: string, keyFile: string | undefined, extra: readonly string[] = []): string[] {
  return [
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    ...(keyFile ? ['-i', keyFile] : ['-o', 'PubkeyAuthentication=no']),
    ...extra,
  ];
}
