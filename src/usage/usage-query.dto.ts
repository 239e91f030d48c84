import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, Max, Min } from 'class-validator';
import { MAX_WINDOW_SECONDS } from '../../libs/tenancy/src';

const ISO = { message: '$property must be an ISO 8601 date-time, such as 2026-11-30T12:00:00Z' };

/** A range: `from` and `to` (ISO 8601); what each defaults to depends on the route. */
export class RangeQueryDto {
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'start of the range (GET /admin/tenants/:id/usage: default 24 hours before to)',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, ISO)
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'end of the range, exclusive (default now; a later one is capped at now)' })
  @IsOptional()
  @IsISO8601({ strict: true }, ISO)
  to?: string;
}

/** `GET /admin/usage`: a period, or a range. */
export class UsageQueryDto extends RangeQueryDto {
  @ApiPropertyOptional({
    enum: ['month', 'day'],
    description: 'the current UTC month or day up to now (default month, unless from is given)',
  })
  @IsOptional()
  @IsIn(['month', 'day'], { message: 'period must be month or day' })
  period?: 'month' | 'day';
}

/** `?seconds=`: a window of this instance's recent load. */
export class WindowQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_WINDOW_SECONDS, description: 'the window, in seconds' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_WINDOW_SECONDS)
  seconds?: number;
}

/** `GET /admin/usage/recent`. */
export class RecentUsageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1440, default: 60, description: 'how many minutes back, this one included' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1440)
  minutes: number = 60;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 5, description: 'how many tenants, the busiest first' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  top: number = 5;
}
