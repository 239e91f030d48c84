import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import { startEmbeddedPostgres } from './embedded-postgres';
import { firstClosedFolder, serverUserBlocked, type ServerUser } from './postgres-user-access';

describe('the postgres user reaching the embedded server (root from a private folder)', () => {
  const base = mkdtempSync(join(tmpdir(), 'nt-private-'));
  chmodSync(base, 0o755);
  const home = join(base, 'home');
  const project = join(home, 'project');
  mkdirSync(project, { recursive: true });
  const me = statSync(home);
  const stranger: ServerUser = { name: 'postgres', uid: me.uid + 4242, gids: [me.gid + 4242] };
  const data = join(project, '.data', 'postgres');

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('a folder of mode 0700 on the way stops another user; one it may search (o+x) does not', () => {
    chmodSync(home, 0o700);
    assert.equal(firstClosedFolder(data, stranger), home);
    assert.equal(firstClosedFolder(data, undefined), home, 'a user yet to be created owns nothing');
    chmodSync(home, 0o711);
    assert.equal(firstClosedFolder(data, stranger), undefined);
  });

  it('the owner or the group passes a folder closed to others', () => {
    chmodSync(home, 0o700);
    assert.equal(firstClosedFolder(data, { ...stranger, uid: me.uid }), undefined);
    chmodSync(home, 0o710);
    assert.equal(firstClosedFolder(data, { ...stranger, gids: [me.gid] }), undefined);
    assert.equal(firstClosedFolder(data, stranger), home);
  });

  it('as root, one line names the folder and what to do; not as root, nothing is in the way', () => {
    chmodSync(home, 0o700);
    const said = serverUserBlocked({ binaries: '/usr/bin', data }, stranger, 0);
    assert.ok(said);
    assert.equal(said.split('\n').length, 1);
    assert.match(said, new RegExp(`cannot enter ${home} to reach its data`));
    assert.match(
      said,
      /Run npm start as a regular user, or put the project in a folder others may enter \(chmod o\+x .*\), or set DATABASE_URL/,
    );
    assert.equal(serverUserBlocked({ binaries: '/usr/bin', data }, stranger, 1000), undefined);
    assert.equal(serverUserBlocked({ binaries: project, data: '/tmp' }, stranger, 0)?.includes('to reach its programs'), true);
  });

  it('starting the embedded server from a private folder fails with that line as root, before anything is spawned', async () => {
    chmodSync(home, 0o700);
    if (process.getuid?.() === 0) {
      await assert.rejects(
        startEmbeddedPostgres({ dir: data, persistent: false }),
        (err: Error) => /cannot enter .* to reach its data/.test(err.message) && !/EACCES/.test(err.message),
      );
    } else {
      // Not root: the server runs as this user, who owns the folder: nothing is in the way.
      assert.equal(serverUserBlocked({ binaries: '/usr/bin', data }), undefined);
    }
  });
});
