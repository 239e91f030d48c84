// Loaded before anything else (`node --require`, from `npm run test:extra-table`): the reference
// app gains a feature table, as a team adopting the kit adds one, with its tenant migration
// appended to the app's migration set. The kit's own suites must hold for such an app: they assert
// what must be there (users, projects, their migration), never that nothing else is.
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createTenantTable } from '../../libs/tenancy/src';
import { TENANT_MIGRATIONS } from '../../src/migrations';

/** The extra feature table: labels on projects, a tenant table with a composite foreign key. */
export const EXTRA_TABLE = 'project_labels';

export class CreateProjectLabels1732759900001 implements MigrationInterface {
  name = 'CreateProjectLabels1732759900001';

  async up(q: QueryRunner): Promise<void> {
    await createTenantTable(q, EXTRA_TABLE, {
      columns: ['project_id uuid NOT NULL', 'label text NOT NULL'],
      foreignKeys: [{ columns: ['project_id'], references: 'projects', onDelete: 'CASCADE' }],
      indexes: [['project_id']],
    });
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ${EXTRA_TABLE}`);
  }
}

if (!TENANT_MIGRATIONS.includes(CreateProjectLabels1732759900001)) TENANT_MIGRATIONS.push(CreateProjectLabels1732759900001);
