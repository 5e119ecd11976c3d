import type { XenbusClient } from '../ports.ts';

interface Watch {
  readonly path: string;
  readonly callback: (changedPath: string) => void;
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * An in-memory xenstore tree with watches, for tests and examples: a flat map of absolute paths
 * with implicit parents. Watches fire asynchronously (after a microtask), once on registration
 * and on every write or removal at or below the watched path, like `XS_WATCH_EVENT`.
 * It has no permissions or transactions; `@typevisor/xenstore` is the real daemon.
 */
export class MemoryXenstore {
  private readonly nodes = new Map<string, string>();
  private readonly watches = new Set<Watch>();
  /** Number of writes performed, for tests that count traffic. */
  writeCount = 0;

  /** A {@link XenbusClient} over this tree. */
  client(): XenbusClient {
    return {
      read: async (path) => this.nodes.get(path),
      write: async (path, value) => this.write(path, value),
      directory: async (path) => this.directory(path),
      remove: async (path) => this.remove(path),
      watch: async (path, callback) => {
        const w: Watch = { path, callback };
        this.watches.add(w);
        this.fire(w, path);
        return async () => {
          this.watches.delete(w);
        };
      },
    };
  }

  /** Reads a node synchronously (test convenience). */
  get(path: string): string | undefined {
    return this.nodes.get(path);
  }

  /** Writes a node, creating parents, and fires watches. */
  write(path: string, value: string): void {
    this.writeCount++;
    const parts = path.split('/');
    for (let i = 2; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!this.nodes.has(parent)) this.nodes.set(parent, '');
    }
    this.nodes.set(path, value);
    this.notify(path);
  }

  /** Child names of a node. */
  directory(path: string): string[] {
    const prefix = `${path}/`;
    const out = new Set<string>();
    for (const k of this.nodes.keys()) {
      if (k.startsWith(prefix)) {
        const rest = k.slice(prefix.length);
        out.add(rest.split('/')[0] ?? rest);
      }
    }
    return [...out].sort();
  }

  /** Removes a node and its descendants, and fires watches. */
  remove(path: string): void {
    let removed = false;
    for (const k of [...this.nodes.keys()]) {
      if (isUnder(k, path)) {
        this.nodes.delete(k);
        removed = true;
      }
    }
    if (removed) this.notify(path);
  }

  /** All paths and values at or below `path`, sorted (for snapshots). */
  dump(path: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.nodes.keys()].sort())
      if (isUnder(k, path)) out[k] = this.nodes.get(k) ?? '';
    return out;
  }

  private notify(changed: string): void {
    for (const w of this.watches) {
      if (isUnder(changed, w.path) || isUnder(w.path, changed)) this.fire(w, changed);
    }
  }

  private fire(w: Watch, path: string): void {
    void Promise.resolve().then(() => {
      if (this.watches.has(w)) w.callback(path);
    });
  }
}
