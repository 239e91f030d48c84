import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Logger, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  errorMessage,
  SuperAdminGuard,
  TenantExporter,
  TenantInspector,
  TenantLifecycle,
  TenantMover,
  TenantProvisioner,
} from '../../libs/tenancy/src';
import { ApiErrorResponses } from '../common/api-error-responses';
import { TenantIdPipe } from '../common/tenant-id.pipe';
import { DeleteTenantQueryDto, MoveTenantDto, ProvisionTenantDto } from './admin.dto';
import { MoveStartedDto, ProvisionedTenantDto, TenantDetailsDto, TenantDto, TenantListDto } from './admin-views.dto';

/** The tenant lifecycle over HTTP: a bearer token with the super_admin role. */
@ApiTags('admin')
@ApiBearerAuth()
@ApiErrorResponses(400, 401, 403, 503)
@UseGuards(SuperAdminGuard)
@Controller('admin/tenants')
export class AdminController {
  private readonly logger = new Logger('Admin');

  constructor(
    private readonly provisioner: TenantProvisioner,
    private readonly inspector: TenantInspector,
    private readonly lifecycle: TenantLifecycle,
    private readonly exporter: TenantExporter,
    private readonly mover: TenantMover,
  ) {}

  @Get()
  @ApiOkResponse({ type: TenantListDto, description: 'every tenant with model, tier, status, schema version and size' })
  async list() {
    return { items: await this.inspector.list() };
  }

  /** Creates the schema or database, applies every migration, records the tenant. Safe to retry. */
  @Post()
  @ApiCreatedResponse({ type: ProvisionedTenantDto, description: 'the tenant, ready to serve' })
  @ApiErrorResponses(409, 413)
  async provision(@Body() dto: ProvisionTenantDto) {
    const started = Date.now();
    const tenant = await this.provisioner.provision(dto);
    return { ...tenant, provisionMillis: Date.now() - started };
  }

  @Get(':id')
  @ApiOkResponse({ type: TenantDetailsDto, description: 'the tenant with its row counts and its move' })
  @ApiErrorResponses(404)
  async inspect(@Param('id', TenantIdPipe) id: string) {
    const tenant = this.lifecycle.require(id);
    return { ...(await this.inspector.inspect(tenant)), move: (await this.mover.state(id)) ?? null };
  }

  @Post(':id/suspend')
  @HttpCode(200)
  @ApiOkResponse({ type: TenantDto, description: 'the tenant, suspended: every instance answers its requests with 403' })
  @ApiErrorResponses(404)
  suspend(@Param('id', TenantIdPipe) id: string) {
    return this.lifecycle.suspend(id);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiOkResponse({ type: TenantDto, description: 'the tenant, served again' })
  @ApiErrorResponses(404)
  resume(@Param('id', TenantIdPipe) id: string) {
    return this.lifecycle.resume(id);
  }

  /** Starts the move and answers 202; progress shows in GET /admin/tenants/:id under `move`. */
  @Post(':id/move')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: MoveStartedDto, description: 'the move started; its progress shows in GET /admin/tenants/{id}' })
  @ApiErrorResponses(404, 409, 413)
  async move(@Param('id', TenantIdPipe) id: string, @Body() dto: MoveTenantDto) {
    const tenant = this.lifecycle.require(id);
    if (tenant.status !== 'active')
      throw new BadRequestException(`Tenant '${id}' is ${tenant.status}; only an active tenant can be moved.`);
    // What would make the move fail at once is answered now, not after a 202.
    await this.mover.check(id, dto);
    void this.mover.move(id, dto).then(
      (report) => this.logger.log(`moved ${id}: ${JSON.stringify(report)}`),
      (err) => this.logger.warn(`move of ${id} failed: ${errorMessage(err)}`),
    );
    return { id, move: { from: tenant.strategy, to: dto.strategy, server: dto.server ?? null }, status: 'started' };
  }

  /** Streams every row of the tenant as NDJSON, whatever its model. */
  @Get(':id/export')
  @ApiOkResponse({
    description: "every row of the tenant, one JSON object a line: a header line, then each table's rows (parents first)",
    // NDJSON for this answer only: its errors are JSON like every other.
    content: { 'application/x-ndjson': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiErrorResponses(404)
  async export(@Param('id', TenantIdPipe) id: string, @Res() reply: ServerResponse | { raw: ServerResponse }) {
    const tenant = this.lifecycle.require(id);
    // Node's response on either platform (Express's extends it, Fastify's reply wraps it).
    const res = 'raw' in reply ? reply.raw : reply;
    res.statusCode = 200;
    res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('content-disposition', `attachment; filename="${id}.ndjson"`);
    try {
      await pipeline(Readable.from(this.exporter.export(tenant)), res);
    } catch (err) {
      this.logger.warn(`export of ${id} ended early: ${errorMessage(err)}`);
      res.destroy();
    }
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'the tenant and every row of it are gone; the tenants file does not bring it back' })
  @ApiErrorResponses(404, 409)
  async remove(@Param('id', TenantIdPipe) id: string, @Query() query: DeleteTenantQueryDto) {
    await this.lifecycle.remove(id, { force: query.force === true });
  }
}
