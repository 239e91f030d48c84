import { ApiProperty } from '@nestjs/swagger';

/** What /health and /health/ready answer when all is well. */
export class HealthStatusDto {
  @ApiProperty({ enum: ['ok', 'ready'], example: 'ready' })
  status!: 'ok' | 'ready';
}
