// `npm run tenancy -- --help` (dist/src/cli.js), run as a shell runs it: help, no command and an
// unknown command need no database, and print no error as undefined.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import { assertReadable, run } from './support/cli-run';
import { childProcessEnv } from './support/test-database';

describe('CLI: help needs no database', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nt-cli-help-'));
  // No DATABASE_URL and an invalid JWT_SECRET: neither is looked at for help.
  const env = childProcessEnv({ JWT_SECRET: 'short', NODE_ENV: 'test' });

  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  for (const args of [['--help'], [], ['help'], ['move', '--help']]) {
    it(`\`${['tenancy', ...args].join(' ')}\` lists the commands, starts no PostgreSQL`, async () => {
      const { code, output } = await run('cli', args, env, cwd);
      assertReadable(output);
      assert.match(
        output,
        args[0] === 'move'
          ? /--strategy[\s\S]*--tier/
          : /list[\s\S]*provision[\s\S]*suspend[\s\S]*resume[\s\S]*export[\s\S]*delete[\s\S]*migrate[\s\S]*move/,
      );
      assert.doesNotMatch(output, /PostgreSQL|DATABASE_URL|Invalid environment/);
      assert.equal(code, args.length === 0 ? 1 : 0, output);
      assert.equal(existsSync(join(cwd, '.data')), false, 'a data folder was made');
    });
  }

  it('an unknown command says so, with exit 1, and starts no PostgreSQL', async () => {
    const { code, output } = await run('cli', ['lisst'], env, cwd);
    assertReadable(output);
    assert.match(output, /unknown command 'lisst'/);
    assert.equal(code, 1);
    assert.equal(existsSync(join(cwd, '.data')), false);
  });
});
