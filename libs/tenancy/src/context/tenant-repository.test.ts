// The singleton repository proxy feature code injects: it must reach the CURRENT unit of work at
// every call (one instance serves every tenant), expose only Repository members (so Nest's probes
// and `await` see a plain object), refuse changes, and fail before any SQL with no tenant in context.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Column, Entity, PrimaryColumn, Repository } from 'typeorm';
import type { TenantRecord } from '../core/tenant-record';
import type { TenantContext } from './tenant-context';
import { NoTenantContextError } from '../errors/tenancy.errors';
import type { FeatureEntities } from '../connections/feature-entities';
import { scratchDatabase, type ScratchDatabase } from '../data-source/scratch-database.test-support';
import { TenantDataSource } from './tenant-data-source';
import { createTenantRepository, getTenantRepositoryToken, tenantRepositoryProviders } from './tenant-repository';
import { UnitOfWork } from '../data-source/unit-of-work';
import { TENANT_CONNECTION } from './typeorm-tokens';

@Entity('notes')
class Note {
  @PrimaryColumn('text')
  body!: string;

  @Column({ type: 'text', insert: false, update: false })
  tenant!: string;
}

const SETUP = `CREATE TABLE notes (body text PRIMARY KEY, tenant text NOT NULL DEFAULT current_setting('app.tenant_id'))`;

function record(id: string): TenantRecord {
  return { id, name: id, tier: null, strategy: 'schema', server: 'default', status: 'active' } as TenantRecord;
}

describe('the tenant repository proxy', () => {
  let db: ScratchDatabase;
  /** The unit of work the stub context hands out: what the async context would hold. */
  let current: UnitOfWork | undefined;
  let repo: Repository<Note>;

  const context = {
    requireUnitOfWork: () => {
      if (!current) throw new NoTenantContextError();
      return current;
    },
  } as unknown as TenantContext;

  async function unit(id: string): Promise<UnitOfWork> {
    const source = { enter: () => () => undefined, lease: async () => ({ dataSource: db.dataSource, release: () => undefined }) };
    const uow = new UnitOfWork(record(id), source, `SELECT set_config('app.tenant_id', '${id}', true), false AS fenced`);
    await uow.start();
    return uow;
  }

  beforeAll(async () => {
    db = await scratchDatabase('repo_unit', SETUP, { entities: [Note], max: 2 });
    repo = createTenantRepository(new TenantDataSource(context), Note);
  });
  afterAll(async () => db?.drop());

  it('reaches the current unit of work at each call: one instance, two tenants, two transactions', async () => {
    const a = await unit('alpha');
    const b = await unit('beta');
    current = a;
    await repo.save({ body: 'a1' });
    const save = repo.save; // a method read under one unit is bound to that unit's repository
    current = b;
    await repo.insert({ body: 'b1' });
    assert.deepEqual(
      (await repo.find()).map((n) => n.body),
      ['b1'],
      "beta's transaction does not see alpha's uncommitted row",
    );
    assert.equal(repo.manager, b.manager, 'manager is the current unit’s');
    assert.equal(repo.queryRunner, b.queryRunner(), 'queryRunner is the current unit’s');
    assert.equal(repo.metadata.tableName, 'notes');
    assert.equal(repo.target, Note);
    await save({ body: 'a2' });
    current = a;
    assert.equal(await repo.count(), 2, 'both alpha rows went into alpha’s transaction');
    await a.commit();
    await b.rollback();
    current = undefined;
    const rows = await db.owner<{ body: string; tenant: string }>('SELECT body, tenant FROM notes ORDER BY body');
    assert.deepEqual(
      rows.map((r) => `${r.body}@${r.tenant}`),
      ['a1@alpha', 'a2@alpha'],
    );
  });

  it('with no unit of work in context, any member access throws NoTenantContextError before SQL is built', () => {
    current = undefined;
    const sent = db.sent.length;
    assert.throws(() => repo.find, NoTenantContextError);
    assert.throws(() => repo.manager, NoTenantContextError);
    assert.equal(db.sent.length, sent);
  });

  it('looks like a Repository yet exposes nothing else: no then, no symbols, no own state, no writes', () => {
    current = undefined;
    assert.ok(repo instanceof Repository);
    assert.equal(repo.constructor, Repository);
    // Read without a unit of work: none of these reaches the context.
    const loose = repo as unknown as Record<PropertyKey, unknown>;
    assert.equal(loose.then, undefined, 'awaiting the provider must not treat it as a promise');
    assert.equal(loose.onModuleInit, undefined, 'Nest lifecycle probes see nothing');
    assert.equal(loose[Symbol.iterator], undefined);
    assert.equal(loose[Symbol.toPrimitive], undefined);
    assert.throws(() => {
      loose.find = () => [];
    }, /cannot be modified/);
    assert.throws(() => {
      loose.custom = 1;
    }, /cannot be modified/);
  });

  it('gives one token per entity, stable across calls, distinct for entities of the same name', () => {
    const Twin = (() => {
      @Entity('notes_twin')
      class Note {
        @PrimaryColumn('text')
        body!: string;
      }
      return Note;
    })();
    assert.equal(getTenantRepositoryToken(Note), getTenantRepositoryToken(Note));
    assert.notEqual(getTenantRepositoryToken(Twin), getTenantRepositoryToken(Note));
    assert.match(getTenantRepositoryToken(Note), /^TenantRepository<Note>#\d+$/);
    assert.match(getTenantRepositoryToken('audit_log'), /^TenantRepository<audit_log>#\d+$/);
  });

  it('a provider registers its entity with the runtime DataSources when Nest builds it', () => {
    const registered: unknown[] = [];
    const features = { register: (e: unknown) => registered.push(e) } as unknown as FeatureEntities;
    const [provider] = tenantRepositoryProviders([Note]) as {
      provide: string;
      useFactory: (d: TenantDataSource, f: FeatureEntities) => unknown;
    }[];
    assert.equal(provider.provide, getTenantRepositoryToken(Note));
    assert.deepEqual(registered, [], 'nothing registered before the provider is built');
    const built = provider.useFactory(new TenantDataSource(context), features);
    assert.deepEqual(registered, [Note]);
    assert.ok(built instanceof Repository);
  });

  it('the same repository goes by the token of @nestjs/typeorm for TENANT_CONNECTION', async () => {
    const { getRepositoryToken } = await import('@nestjs/typeorm');
    const [, alias] = tenantRepositoryProviders([Note]) as { provide: string; useExisting: string }[];
    assert.equal(alias.provide, getRepositoryToken(Note, TENANT_CONNECTION));
    assert.equal(alias.useExisting, getTenantRepositoryToken(Note));
  });
});
