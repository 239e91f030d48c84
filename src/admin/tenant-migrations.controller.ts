import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { SuperAdminGuard, TenantLifecycle, TenantMigrations } from '../../libs/tenancy/src';
import { ApiErrorResponses } from '../common/api-error-responses';
import { TenantIdPipe } from '../common/tenant-id.pipe';
import { TenantMigrationsDto } from './admin-views.dto';

/** Where a tenant's schema stands: the migration ledger's rows for the places that hold its rows. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiErrorResponses(400, 401, 403, 503)
@UseGuards(SuperAdminGuard)
@Controller('admin/tenants')
export class TenantMigrationsController {
  constructor(
    private readonly lifecycle: TenantLifecycle,
    private readonly migrations: TenantMigrations,
  ) {}

  /**
   * The ledger rows of the tenant's own schema or database, and, for a tenant of the shared
   * tables, the shared tables' row (`@shared`): version, status (`current`, `behind`, `failed`,
   * `unknown`) and the error of a failed run. From the control database only.
   */
  @Get(':id/migrations')
  @ApiOkResponse({ type: TenantMigrationsDto, description: "the migration ledger's rows for the tenant's places" })
  @ApiErrorResponses(404)
  async migrationsOf(@Param('id', TenantIdPipe) id: string) {
    const tenant = this.lifecycle.require(id);
    const rows = await this.migrations.status();
    const targets = rows.filter((r) => r.target === id || (r.target.startsWith('@') && r.model === tenant.strategy));
    return { tenantId: id, latest: this.migrations.latest, targets };
  }
}
