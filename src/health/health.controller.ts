import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '../common/api-error-responses';
import { HealthStatusDto } from './health-status.dto';
import { TenancyReadiness } from '../../libs/tenancy/src';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: TenancyReadiness) {}

  /** Liveness: the process answers. */
  @Get()
  @ApiOkResponse({ type: HealthStatusDto, description: 'the process answers (status ok)' })
  live() {
    return { status: 'ok' };
  }

  /** Readiness: the control database answers and the runtime role can sign in. */
  @Get('ready')
  @ApiOkResponse({ type: HealthStatusDto, description: 'ready to serve (status ready)' })
  @ApiErrorResponses(503)
  async ready() {
    const problems = await this.readiness.problems();
    if (problems.length) throw new ServiceUnavailableException(problems.join(' '));
    return { status: 'ready' };
  }
}
