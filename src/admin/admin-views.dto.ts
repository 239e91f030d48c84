import { ApiProperty } from '@nestjs/swagger';
import { ISOLATION_MODELS } from '../../libs/tenancy/src';

const STATUSES = ['provisioning', 'active', 'suspended', 'moving', 'deleting'];

/** A tenant as the catalog knows it. */
export class TenantDto {
  @ApiProperty({ example: 'acme' })
  id!: string;

  @ApiProperty({ example: 'Acme Corp' })
  name!: string;

  @ApiProperty({ type: String, nullable: true, example: 'enterprise' })
  tier!: string | null;

  @ApiProperty({ enum: ISOLATION_MODELS, description: 'the model the tenant is served by' })
  strategy!: string;

  @ApiProperty({ example: 'default', description: 'database model: the server of its database' })
  server!: string;

  @ApiProperty({ enum: STATUSES })
  status!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when it was last exported in full' })
  exportedAt!: Date | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '7415:7421:7417',
    description:
      "the last export's snapshot (pg_snapshot, xmin:xmax:xip) on the tenant's server: a row written by a transaction it does not see makes a delete without force refuse",
  })
  exportedSnapshot!: string | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: Date;
}

/** A provisioned tenant, and how long provisioning took. */
export class ProvisionedTenantDto extends TenantDto {
  @ApiProperty({ description: 'milliseconds' })
  provisionMillis!: number;
}

/** A tenant with its schema version and size. */
export class TenantSummaryDto extends TenantDto {
  @ApiProperty({ type: String, nullable: true, description: 'the last tenant migration applied' })
  version!: string | null;

  @ApiProperty({ type: Number, nullable: true, description: "bytes on disk (the shared model: the tenant's share by rows)" })
  sizeBytes!: number | null;
}

/** Every tenant. */
export class TenantListDto {
  @ApiProperty({ type: [TenantSummaryDto] })
  items!: TenantSummaryDto[];
}

/** One tenant's row counts and its move, if one is recorded. */
export class TenantDetailsDto extends TenantSummaryDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { users: 4, projects: 3 },
    description: 'rows per table',
  })
  rows!: Record<string, number>;

  @ApiProperty({
    type: 'object',
    nullable: true,
    additionalProperties: true,
    description: 'the recorded move (phase, source, target, progress, error), null when none',
  })
  move!: Record<string, unknown> | null;
}

/** Where a started move goes. */
export class MoveDirectionDto {
  @ApiProperty({ enum: ISOLATION_MODELS })
  from!: string;

  @ApiProperty({ enum: ISOLATION_MODELS })
  to!: string;

  @ApiProperty({ type: String, nullable: true })
  server!: string | null;
}

/** A move that was started: its progress shows in GET /admin/tenants/{id} under `move`. */
export class MoveStartedDto {
  @ApiProperty({ example: 'acme' })
  id!: string;

  @ApiProperty({ type: MoveDirectionDto })
  move!: MoveDirectionDto;

  @ApiProperty({ enum: ['started'] })
  status!: 'started';
}

/** One place's row of the migration ledger. */
export class MigrationTargetDto {
  @ApiProperty({ example: 'acme', description: "a tenant id, or '@shared' for the shared tables" })
  target!: string;

  @ApiProperty({ enum: ISOLATION_MODELS })
  model!: string;

  @ApiProperty({ type: String, nullable: true, description: 'the last migration applied there' })
  version!: string | null;

  @ApiProperty({ enum: ['current', 'behind', 'failed', 'unknown'] })
  status!: string;

  @ApiProperty({ type: String, nullable: true, description: 'why the last run there failed' })
  error!: string | null;
}

/** Where a tenant's schema stands. */
export class TenantMigrationsDto {
  @ApiProperty({ example: 'acme' })
  tenantId!: string;

  @ApiProperty({ type: String, nullable: true, description: 'the newest tenant migration: the version a current place is on' })
  latest!: string | null;

  @ApiProperty({ type: [MigrationTargetDto] })
  targets!: MigrationTargetDto[];
}
