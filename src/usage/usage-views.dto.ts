import { ApiProperty } from '@nestjs/swagger';
import { ISOLATION_MODELS } from '../../libs/tenancy/src';

const STATUSES = ['provisioning', 'active', 'suspended', 'moving', 'deleting'];

/** Unit prices of the cost estimate. */
export class UnitPricesDto {
  @ApiProperty({ example: 'USD', description: 'ISO 4217 code' })
  currency!: string;
  @ApiProperty({ example: 0.2, description: 'per million requests' })
  computePerMillionRequests!: number;
  @ApiProperty({ example: 0.12, description: 'per hour of database time' })
  databasePerHour!: number;
  @ApiProperty({ example: 0.1, description: 'per GB-month of storage (GB = 2^30 bytes, month = 730 h)' })
  storagePerGbMonth!: number;
}

/** An estimated cost, in the currency of the tenant's tier's prices. */
export class UsageCostDto {
  @ApiProperty() compute!: number;
  @ApiProperty() database!: number;
  @ApiProperty() storage!: number;
  @ApiProperty() total!: number;
}

/** Counts of the usage ledger. */
export class UsageTotalsDto {
  @ApiProperty({ description: 'units of work: HTTP requests and TenancyService.run calls' })
  requests!: number;
  @ApiProperty({ description: 'of those, 5xx answers and runs that threw' })
  errors!: number;
  @ApiProperty({ description: 'their database time, in milliseconds' })
  databaseMs!: number;
  @ApiProperty({ description: 'rows their INSERT, UPDATE, DELETE and MERGE statements wrote' })
  rowsWritten!: number;
}

export class TenantUsageDto extends UsageTotalsDto {
  @ApiProperty({ example: 'acme' }) tenantId!: string;
  @ApiProperty({ enum: ISOLATION_MODELS }) model!: string;
  @ApiProperty({ type: String, nullable: true, example: 'enterprise' }) tier!: string | null;
  @ApiProperty({ enum: STATUSES }) status!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'bytes held now; null when unknown' }) storageBytes!: number | null;
  @ApiProperty({ type: UsageCostDto }) cost!: UsageCostDto;
}

/** Every tenant's usage and cost over a period. */
export class UsageReportDto {
  @ApiProperty({ type: String, format: 'date-time' }) from!: Date;
  @ApiProperty({ type: String, format: 'date-time', description: 'exclusive' }) to!: Date;
  @ApiProperty({ type: UnitPricesDto, description: 'the prices of tenants without a tier; a tier may have its own' })
  prices!: UnitPricesDto;
  @ApiProperty({ type: [TenantUsageDto] }) tenants!: TenantUsageDto[];
}

export class UsagePointDto extends UsageTotalsDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'start of the minute or hour' }) at!: Date;
}

/** One tenant's usage over time. */
export class TenantUsageSeriesDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty({ type: String, format: 'date-time' }) from!: Date;
  @ApiProperty({ type: String, format: 'date-time', description: 'exclusive' }) to!: Date;
  @ApiProperty({ enum: ['minute', 'hour'], description: 'hour when the range is over 6 hours' }) step!: string;
  @ApiProperty({ type: [UsagePointDto], description: 'one per step, zeros where nothing was recorded' }) points!: UsagePointDto[];
  @ApiProperty({ type: UsageTotalsDto }) totals!: UsageTotalsDto;
  @ApiProperty({ type: Number, nullable: true }) storageBytes!: number | null;
  @ApiProperty({ type: UsageCostDto }) cost!: UsageCostDto;
}

export class TenantActivityDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty({ enum: ISOLATION_MODELS }) model!: string;
  @ApiProperty({ type: String, nullable: true }) tier!: string | null;
  @ApiProperty() requestsPerSecond!: number;
  @ApiProperty({ description: '99th percentile duration in milliseconds' }) p99Ms!: number;
  @ApiProperty({ description: 'errors / requests, 0 to 1' }) errorRate!: number;
  @ApiProperty() databaseMsPerSecond!: number;
  @ApiProperty({ description: 'held as a noisy neighbour now' }) noisy!: boolean;
}

/** This instance's live figures per tenant. */
export class ActivityReportDto {
  @ApiProperty() seconds!: number;
  @ApiProperty({ type: [TenantActivityDto] }) tenants!: TenantActivityDto[];
}

export class NoisyMedianDto {
  @ApiProperty() requests!: number;
  @ApiProperty({ description: 'milliseconds' }) databaseMs!: number;
}

export class NoisyTenantDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty() requests!: number;
  @ApiProperty() databaseMs!: number;
  @ApiProperty({ description: 'its load over the median (the larger of requests and database time)' }) ratio!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'when the detection found it noisy' })
  since!: Date | null;
  @ApiProperty({ description: "held to its tier's rate for being noisy" }) throttled!: boolean;
}

/** Tenants above factor × the median load of the window. */
export class NoisyReportDto {
  @ApiProperty() seconds!: number;
  @ApiProperty({ example: 10 }) factor!: number;
  @ApiProperty({ type: NoisyMedianDto }) median!: NoisyMedianDto;
  @ApiProperty({ type: [NoisyTenantDto] }) tenants!: NoisyTenantDto[];
}

export class RecentTenantLoadDto {
  @ApiProperty() tenantId!: string;
  @ApiProperty({ type: [Number], description: 'requests per minute, one per entry of minutes' }) requests!: number[];
}

/** The top tenants' requests per minute. */
export class RecentUsageDto {
  @ApiProperty({ type: [String], format: 'date-time', description: 'the minutes, oldest first' }) minutes!: string[];
  @ApiProperty({ type: [RecentTenantLoadDto] }) tenants!: RecentTenantLoadDto[];
}
