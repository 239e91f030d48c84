// What `npm run migrate` (dist/src/migrate.js) and `npm run tenancy -- migrate` say they did, run as
// processes: the targets their own start-up migrated, then up to date; never "skipped".
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertReadable, run } from './support/cli-run';
import { prepareServiceRun, type ServiceRun } from './support/service-run';

describe('migrate reports what happened', () => {
  let service: ServiceRun;
  let env: Record<string, string>;

  beforeAll(async () => {
    service = await prepareServiceRun();
    env = service.env;
  });

  afterAll(() => service?.cleanup());

  it('migrate right after a start-up that migrated everything says so, then says up to date', async () => {
    const first = await run('migrate', [], env);
    assertReadable(first.output);
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /^@shared\s+shared\s+migrated at start-up: CreateUsersAndProjects/m);
    assert.match(first.output, /^acme\s+database\s+migrated at start-up: /m);
    assert.match(first.output, /3 targets: 0 migrated now, 3 migrated at start-up, 0 up to date, 0 failed/);
    assert.doesNotMatch(first.output, /skipped/);
    const again = await run('cli', ['migrate'], env);
    assertReadable(again.output);
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /3 targets: 0 migrated now, 0 migrated at start-up, 3 up to date, 0 failed/);
  });
});
