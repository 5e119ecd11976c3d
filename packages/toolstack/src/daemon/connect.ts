/**
 * How the verbs reach the daemon: the control socket from the environment, a clear message
 * when none runs.
 * @module
 */
import { DaemonClient } from './client.ts';
import { controlSocketPath, type PathEnv } from './paths.ts';

/** Connects to the daemon named by `env` (TYPEVISOR_SOCKET / TYPEVISOR_RUN_DIR). */
export function connectDaemon(env: PathEnv): Promise<DaemonClient> {
  return DaemonClient.connect(controlSocketPath(env));
}

/** Runs `fn` with a connection to the daemon and closes it afterwards. */
export async function withDaemon<T>(
  env: PathEnv,
  fn: (client: DaemonClient) => Promise<T>,
): Promise<T> {
  const client = await connectDaemon(env);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
