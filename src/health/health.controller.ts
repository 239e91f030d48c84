import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { TenancyReadiness } from '../../libs/tenancy/src';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: TenancyReadiness) {}

  /** Liveness: the process answers. */
  @Get()
  live() {
    return { status: 'ok' };
  }

  /** Readiness: the control database answers and the runtime role can sign in. */
  @Get('ready')
  async ready() {
    const problems = await this.readiness.problems();
    if (problems.length) throw new ServiceUnavailableException(problems.join(' '));
    return { status: 'ready' };
  }
}
