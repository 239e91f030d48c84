import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { OwnerConnections } from '../../libs/tenancy/src';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly owner: OwnerConnections) {}

  /** Liveness: the process answers. */
  @Get()
  live() {
    return { status: 'ok' };
  }

  /** Readiness: the control database answers. */
  @Get('ready')
  async ready() {
    try {
      const ds = await this.owner.controlDataSource();
      await ds.query('SELECT 1');
      return { status: 'ready' };
    } catch {
      throw new ServiceUnavailableException('The control database is not reachable.');
    }
  }
}
