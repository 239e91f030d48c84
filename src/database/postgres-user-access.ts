import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, parse, resolve } from 'node:path';

/** Who the embedded PostgreSQL runs as when the service runs as root: the `postgres` user. */
export interface ServerUser {
  name: string;
  uid: number;
  /** Its groups (the primary one first). */
  gids: number[];
}

/**
 * The `postgres` user as the system knows it, or undefined when there is none yet (the embedded
 * server creates it on first use; until then it owns nothing and belongs to no other group).
 */
export function postgresUser(name = 'postgres'): ServerUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gids = execFileSync('id', ['-G', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .map(Number);
    return Number.isInteger(uid) ? { name, uid, gids } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first folder on the way to `path` (from the root down, `path` itself included when it is a
 * folder that exists) that `user` may not enter (no search permission for it as owner, group or
 * other), or undefined when every existing folder on the way lets it through. A user that does
 * not exist yet (undefined) passes only folders open to others. Folders that do not exist yet
 * are skipped: they are created by root with mode 0755 below a folder checked here.
 */
export function firstClosedFolder(path: string, user: ServerUser | undefined): string | undefined {
  const folders: string[] = [];
  let at = resolve(path);
  const root = parse(at).root;
  for (;;) {
    folders.unshift(at);
    if (at === root) break;
    at = dirname(at);
  }
  for (const folder of folders) {
    let mode: number;
    let uid: number;
    let gid: number;
    try {
      const s = statSync(folder);
      if (!s.isDirectory()) continue;
      ({ mode, uid, gid } = s);
    } catch {
      continue;
    }
    const bit = user && uid === user.uid ? 0o100 : user && user.gids.includes(gid) ? 0o010 : 0o001;
    if (!(mode & bit)) return folder;
  }
  return undefined;
}

/**
 * Run as root, the embedded PostgreSQL runs its programs as the `postgres` user, which must be able
 * to reach both its binaries and its data folder: a private folder on the way (a home directory of
 * mode 0700, say) makes `initdb` fail to start with EACCES. Returns one line saying which folder
 * is in the way and what to do, or undefined when nothing is (or when not running as root).
 * `user`: the server's user (default: the system's `postgres`); `runningAs`: this process's uid.
 */
export function serverUserBlocked(
  paths: { binaries: string; data: string },
  user = postgresUser(),
  runningAs = process.getuid?.(),
): string | undefined {
  if (runningAs !== 0) return undefined;
  for (const [what, path] of [
    ['its programs', paths.binaries],
    ['its data', paths.data],
  ] as const) {
    const closed = firstClosedFolder(path, user);
    if (closed) {
      return (
        `Run as root, the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${closed} to reach ${what} (${path}). ` +
        `Run npm start as a regular user, or put the project in a folder others may enter (chmod o+x ${closed}), or set DATABASE_URL to a PostgreSQL server.`
      );
    }
  }
  return undefined;
}
