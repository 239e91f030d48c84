import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { NoisyNeighbours, SuperAdminGuard, UsageReports } from '../../libs/tenancy/src';
import { ApiErrorResponses } from '../common/api-error-responses';
import { TenantIdPipe } from '../common/tenant-id.pipe';
import { RangeQueryDto, RecentUsageQueryDto, UsageQueryDto, WindowQueryDto } from './usage-query.dto';
import { tenantUsageRange, usageRange } from './usage-range';
import { ActivityReportDto, NoisyReportDto, RecentUsageDto, TenantUsageSeriesDto, UsageReportDto } from './usage-views.dto';

/**
 * Usage, cost and noisy neighbours over HTTP (a bearer token with the super_admin role). The module
 * is imported before the admin module: on Express, routes match in the order they were registered,
 * so `/admin/tenants/noisy` and `/admin/tenants/activity` come before `/admin/tenants/:id`.
 */
@ApiTags('admin')
@ApiBearerAuth()
@ApiErrorResponses(400, 401, 403, 503)
@UseGuards(SuperAdminGuard)
@Controller('admin')
export class UsageController {
  constructor(
    private readonly reports: UsageReports,
    private readonly noisy: NoisyNeighbours,
  ) {}

  @Get('usage')
  @ApiOkResponse({ type: UsageReportDto, description: 'every tenant with its usage and estimated cost over the period' })
  period(@Query() query: UsageQueryDto) {
    const { from, to } = usageRange(query);
    return this.reports.period(from, to);
  }

  @Get('usage/recent')
  @ApiOkResponse({ type: RecentUsageDto, description: "the top tenants' requests per minute over the last minutes" })
  async recent(@Query() query: RecentUsageQueryDto) {
    const { minutes, tenants } = await this.reports.recent(query.minutes, query.top);
    return { minutes: minutes.map((m) => m.toISOString()), tenants };
  }

  @Get('tenants/activity')
  @ApiOkResponse({ type: ActivityReportDto, description: "this instance's live figures per tenant over the window (default 60 s)" })
  activity(@Query() query: WindowQueryDto) {
    const seconds = query.seconds ?? 60;
    return { seconds, tenants: this.reports.activity(seconds) };
  }

  @Get('tenants/noisy')
  @ApiOkResponse({
    type: NoisyReportDto,
    description: 'tenants above factor × the median load over the window (default 300 s), this instance',
  })
  noisyTenants(@Query() query: WindowQueryDto) {
    return this.noisy.report(query.seconds ?? 300);
  }

  @Get('tenants/:id/usage')
  @ApiOkResponse({
    type: TenantUsageSeriesDto,
    description: "the tenant's usage per minute (range up to 6 h) or hour, default the last 24 h",
  })
  @ApiErrorResponses(404)
  tenant(@Param('id', TenantIdPipe) id: string, @Query() query: RangeQueryDto) {
    const { from, to } = tenantUsageRange(query);
    return this.reports.tenant(id, from, to);
  }
}
