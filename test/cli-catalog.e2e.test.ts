// The operator's day with the CLI (dist/src/cli.js) and `npm run migrate`, run as processes: the
// catalog is the truth once a tenant is in it (deleted stays deleted, a difference from the tenants
// file is reported once, a move may set the tier).
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertReadable, run } from './support/cli-run';
import { DEMO_TENANTS as TENANTS, prepareServiceRun, type ServiceRun } from './support/service-run';

describe('CLI: the catalog is the truth once a tenant is in it', () => {
  let service: ServiceRun;
  let env: Record<string, string>;
  const cli = async (...args: string[]) => {
    const ran = await run('cli', args, env);
    assertReadable(ran.output);
    assert.equal(ran.code, 0, ran.output);
    return ran.output;
  };
  const rowOf = (output: string, id: string) => output.split('\n').find((l) => l.startsWith(`${id} `));

  beforeAll(async () => {
    service = await prepareServiceRun(TENANTS);
    env = service.env;
  });

  afterAll(() => service?.cleanup());

  it('a deleted tenant of the tenants file stays deleted, said once; provisioning it brings it back', async () => {
    assert.match(await cli('delete', 'gadget', '--force'), /gadget deleted/);
    const next = await cli('list');
    assert.equal(rowOf(next, 'gadget'), undefined, next);
    assert.match(next, /tenant gadget of the tenants file was deleted .* stays deleted/);
    const later = await cli('list');
    assert.equal(rowOf(later, 'gadget'), undefined, later);
    assert.doesNotMatch(later, /was deleted/, 'said again');
    assert.match(await cli('provision', 'gadget', '--tier', 'free'), /gadget ready/);
    const back = await cli('list');
    assert.match(rowOf(back, 'gadget') ?? '', /^gadget\s+shared\s+free\s+active/);
    assert.doesNotMatch(back, /was deleted/);
  });

  it('a move with --tier shows in list as the current model and tier; the file differing is reported once', async () => {
    const moved = await cli('move', 'widget', '--tier', 'free');
    assert.match(moved, /widget: schema -> shared \(.*\), tier free/);
    const next = await cli('list');
    assert.match(rowOf(next, 'widget') ?? '', /^widget\s+shared\s+free\s+active/, next);
    assert.match(next, /tenant widget: the tenants file says schema model, tier pro, the catalog says shared model, tier free/);
    assert.match(next, /To reconcile/);
    const later = await cli('list');
    assert.doesNotMatch(later, /tenants file says/, 'reported again');
    assert.match(rowOf(later, 'widget') ?? '', /^widget\s+shared\s+free/);
  });

  it('a move whose tier is of another model is refused, with the reason, and changes nothing', async () => {
    const ran = await run('cli', ['move', 'acme', '--strategy', 'schema', '--tier', 'free'], env);
    assertReadable(ran.output);
    assert.equal(ran.code, 1, ran.output);
    assert.match(ran.output, /Tier 'free' is of the shared model, not schema/);
    assert.match(rowOf(await cli('list'), 'acme') ?? '', /^acme\s+database\s+enterprise/);
  });
});
