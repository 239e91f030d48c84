// "Add your own feature" as the README tells it: an entity, a migration written with
// createTenantTable(), a module with TenancyModule.forFeature([Note]) (the entity is NOT repeated in
// the root options), and the proof that it is isolated in all three models: another tenant can
// neither read, change, forge nor reference a tenant's notes.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Injectable, INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Column, Entity, MigrationInterface, PrimaryColumn, QueryRunner, Repository } from 'typeorm';
import {
  createTenantTable,
  InjectTenantRepository,
  TenancyModule,
  TenancyService,
  TenantCatalog,
  TenantDataSource,
} from '../libs/tenancy/src';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { pgErrorCode } from '../libs/tenancy/src/errors/pg-error-code';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { Project } from '../src/projects/project.entity';
import { User } from '../src/users/user.entity';
import { dropEverything, DEFAULT_TIERS } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { startNestApp } from './support/nest-app';

// --- the feature, as a team would write it -------------------------------------------------------

@Entity('notes')
class Note {
  @PrimaryColumn('uuid')
  id!: string;

  @Column('text')
  body!: string;
}

class CreateNotes1732752300001 implements MigrationInterface {
  name = 'CreateNotes1732752300001';
  async up(q: QueryRunner): Promise<void> {
    await createTenantTable(q, 'notes', { columns: ['body text NOT NULL'] });
    await createTenantTable(q, 'note_comments', {
      columns: ['note_id uuid NOT NULL', 'body text NOT NULL'],
      foreignKeys: [{ columns: ['note_id'], references: 'notes', onDelete: 'CASCADE' }],
      indexes: [['note_id']],
    });
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE note_comments`);
    await q.query(`DROP TABLE notes`);
  }
}

@Injectable()
class NotesService {
  constructor(@InjectTenantRepository(Note) readonly notes: Repository<Note>) {}

  create(body: string): Promise<Note> {
    return this.notes.save({ id: randomUUID(), body });
  }
}

@Module({ imports: [TenancyModule.forFeature([Note])], providers: [NotesService], exports: [NotesService] })
class NotesModule {}

// --- the proof --------------------------------------------------------------------------------------

const PAIRS = {
  shared: ['fn-s1', 'fn-s2'],
  schema: ['fn-c1', 'fn-c2'],
  database: ['fn-d1', 'fn-d2'],
} as const;

describe('a feature added with createTenantTable() and forFeature()', () => {
  let app: INestApplication;
  let tenancy: TenancyService;
  let data: TenantDataSource;
  let notes: NotesService;
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const runtimeRole = `nt_app_${suffix}`;
  const databasePrefix = `nt${suffix}_`;

  async function failure(tenant: string, sql: string, params: unknown[]): Promise<string | undefined> {
    try {
      await tenancy.run(tenant, () => data.query(sql, params));
    } catch (err) {
      return pgErrorCode(err) ?? String(err);
    }
    return undefined;
  }

  beforeAll(async () => {
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
    const moduleRef = await Test.createTestingModule({
      imports: [
        TenancyModule.forRoot({
          databaseUrl: urlFor(controlDatabase),
          catalog: {
            tiers: DEFAULT_TIERS,
            tenants: Object.entries(PAIRS).flatMap(([model, ids]) => ids.map((id) => ({ id, name: id, strategy: model as 'shared' }))),
          },
          // Note is not listed: forFeature registers it.
          entities: [User, Project],
          migrations: [...TENANT_MIGRATIONS, CreateNotes1732752300001],
          runtimeRole,
          naming: { databasePrefix },
        }),
        NotesModule,
      ],
    }).compile();
    app = await startNestApp(moduleRef, { logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : false });
    tenancy = app.get(TenancyService);
    data = app.get(TenantDataSource);
    notes = app.get(NotesService);
  });
  afterAll(async () => {
    await app?.close();
    await dropEverything(controlDatabase, databasePrefix, runtimeRole);
  });

  for (const [model, [a, b]] of Object.entries(PAIRS)) {
    it(`${model} model: the entity works from forFeature alone, and ${b} cannot read, change, forge or reference ${a}'s notes`, async () => {
      const mine = await tenancy.run(a, () => notes.create('a secret of ' + a));
      await tenancy.run(b, () => notes.create('b’s own note'));

      // Read: a plain SELECT and the repository see only the tenant's own rows.
      const seen: { id: string; tenant_id: string }[] = await tenancy.run(b, () => data.query(`SELECT * FROM notes`));
      assert.ok(seen.length >= 1);
      assert.ok(
        seen.every((r) => r.tenant_id === b),
        JSON.stringify(seen),
      );
      assert.equal(await tenancy.run(b, () => notes.notes.findOneBy({ id: mine.id })), null);

      // Change: an UPDATE or DELETE of the other's id touches nothing.
      const updated = await tenancy.run(b, () => notes.notes.update({ id: mine.id }, { body: 'stolen' }));
      assert.equal(updated.affected, 0);
      const deleted = await tenancy.run(b, () => notes.notes.delete({ id: mine.id }));
      assert.equal(deleted.affected, 0);

      // Forge: an INSERT carrying the other's tenant_id is refused (RLS WITH CHECK, or the tenant pin).
      const forged = await failure(b, `INSERT INTO notes (tenant_id, id, body) VALUES ($1, $2, 'forged')`, [a, randomUUID()]);
      assert.ok(forged === '42501' || forged === '23514', `forged insert: ${forged}`);

      // Reference: a comment of b pointing at a's note breaks the composite foreign key.
      assert.equal(await failure(b, `INSERT INTO note_comments (note_id, body) VALUES ($1, 'hi')`, [mine.id]), '23503');

      // Schema model: naming a's schema outright still shows none of a's rows.
      if (model === 'schema') {
        const place = app.get(IsolationStrategies).for('schema').location(app.get(TenantCatalog).get(a)!);
        const rows: unknown[] = await tenancy.run(b, () => data.query(`SELECT * FROM "${place.schema}".notes`));
        assert.deepEqual(rows, []);
      }

      // a's note is untouched.
      const still = await tenancy.run(a, () => notes.notes.findOneBy({ id: mine.id }));
      assert.equal(still?.body, 'a secret of ' + a);
      assert.equal(await failure(a, `INSERT INTO note_comments (note_id, body) VALUES ($1, 'mine')`, [mine.id]), undefined);
    });
  }
});
